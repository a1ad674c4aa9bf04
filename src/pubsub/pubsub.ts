/**
 * Notifications between handlers (gitauth listen wake-ups, workspace change events).
 * In one process an in-memory bus; across replicas the Redis bus implements the same interface.
 */
export type Unsubscribe = () => void;

export interface Pubsub {
  publish(channel: string, message: string): void;
  subscribe(channel: string, listener: (message: string) => void): Unsubscribe;
}

export class MemoryPubsub implements Pubsub {
  private readonly channels = new Map<string, Set<(message: string) => void>>();

  publish(channel: string, message: string): void {
    const listeners = this.channels.get(channel);
    if (!listeners) return;
    for (const l of [...listeners]) {
      try {
        l(message);
      } catch {
        // A listener's failure must not stop delivery to the others.
      }
    }
  }

  subscribe(channel: string, listener: (message: string) => void): Unsubscribe {
    let set = this.channels.get(channel);
    if (!set) this.channels.set(channel, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.channels.delete(channel);
    };
  }
}
