import { describe, expect, it } from 'vitest';
import { type FrameEvent, FrameSplitter } from './frames.js';

const MAX = 1000;

function sized(body: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(body.length, 0);
  return Buffer.concat([prefix, body]);
}

function bodies(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(`frame-${i}-`.repeat(i + 1)));
}

function framesOf(events: FrameEvent[]): Buffer[] {
  return events.map((e) => {
    if (e.type !== 'frame') throw new Error(`unexpected ${e.type}: ${e.reason}`);
    return e.frame;
  });
}

describe('FrameSplitter', () => {
  const expected = [...bodies(4), Buffer.alloc(0), Buffer.from('last')];
  const stream = Buffer.concat(expected.map(sized));

  it('returns the same frames wherever the stream is cut into two chunks', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new FrameSplitter(MAX);
      const got = [...framesOf(s.push(stream.subarray(0, cut))), ...framesOf(s.push(stream.subarray(cut)))];
      expect(got, `cut at ${cut}`).toEqual(expected);
    }
  });

  it('returns the same frames when every byte arrives on its own', () => {
    const s = new FrameSplitter(MAX);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...framesOf(s.push(stream.subarray(i, i + 1))));
    expect(got).toEqual(expected);
  });

  it('returns a frame inside one chunk as a slice of it, without copying', () => {
    const chunk = Buffer.concat([sized(Buffer.from('one')), sized(Buffer.from('two'))]);
    const [first, second] = framesOf(new FrameSplitter(MAX).push(chunk));
    expect([first.toString(), second.toString()]).toEqual(['one', 'two']);
    expect(first.buffer).toBe(chunk.buffer);
    expect(second.buffer).toBe(chunk.buffer);
  });

  it('returns an empty frame whose size prefix is the last thing received', () => {
    // Four zero bytes from any client used to throw in the socket's data handler and kill the broker.
    expect(new FrameSplitter(MAX).push(Buffer.alloc(4))).toEqual([{ type: 'frame', frame: Buffer.alloc(0) }]);
  });

  it('refuses a size above the limit as soon as its 4 bytes arrive, even split', () => {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(MAX + 1, 0);
    const s = new FrameSplitter(MAX);
    expect(s.push(prefix.subarray(0, 3))).toEqual([]);
    expect(s.push(prefix.subarray(3))).toEqual([
      { type: 'error', reason: `frame of ${MAX + 1} bytes is outside 0..${MAX} (socket.request.max.bytes)` },
    ]);
  });

  it('refuses a negative size, after the frames before it', () => {
    const events = new FrameSplitter(MAX).push(
      Buffer.concat([sized(Buffer.from('ok')), Buffer.from('ffffffff', 'hex')]),
    );
    expect(events.map((e) => e.type)).toEqual(['frame', 'error']);
  });
});
