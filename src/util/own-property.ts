/**
 * Sets `key` on `obj` as an ordinary own data property. Use it when the key
 * comes from the wire: plain assignment of "__proto__" would replace the
 * object's prototype (its value then reads as inherited fields) and drop the key.
 */
export function setOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
