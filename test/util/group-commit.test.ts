import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/util/group-commit.js';

describe('GroupCommit', () => {
  it('writes the first item at once and batches those that arrive during the write', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
    });
    const first = gc.add(1);
    const rest = [gc.add(2), gc.add(3), gc.add(4)];
    expect(batches).toEqual([[1]]);
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('rejects only the callers of a failed batch', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<string>(async (items) => {
      calls++;
      if (calls === 1) {
        await gate;
        throw new Error(`boom ${items.join(',')}`);
      }
    });
    const failed = gc.add('a');
    const ok = gc.add('b');
    release();
    await expect(failed).rejects.toThrow('boom a');
    await expect(ok).resolves.toBeUndefined();
  });

  it('caps the batch size', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number>(async (items) => {
      sizes.push(items.length);
      if (sizes.length === 1) await gate;
    }, 3);
    const all = [gc.add(0)];
    for (let i = 1; i <= 7; i++) all.push(gc.add(i));
    release();
    await Promise.all(all);
    await gc.flush();
    expect(sizes).toEqual([1, 3, 3, 1]);
  });
});
