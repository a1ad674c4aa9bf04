export { CookieChecker, CookieGenerator, Keypair } from '../../src/wireguard/index.js';
export const LABEL_COOKIE_FOR_TEST = new TextEncoder().encode('cookie--');
