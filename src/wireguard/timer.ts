/** A re-armable one-shot timer on the injected Clock (wireguard-go's Timer Mod/Del/IsPending). */
import type { Clock, TimerHandle } from '../util/clock.js';

export class PeerTimer {
  private handle: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  get pending(): boolean {
    return this.handle !== null;
  }

  mod(ms: number): void {
    this.handle?.cancel();
    this.handle = this.clock.setTimeout(() => {
      this.handle = null;
      this.fire();
    }, ms);
  }

  del(): void {
    this.handle?.cancel();
    this.handle = null;
  }
}
