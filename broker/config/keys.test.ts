import { describe, expect, it } from 'vitest';
import { parseListenerNames, parseQuorumVoters } from './keys.js';

describe('controller.quorum.voters', () => {
  it('maps each voter id to its host and port, IPv6 hosts in brackets', () => {
    expect(parseQuorumVoters('1@node-1:9093, 2@10.0.0.2:9193,3@[::1]:9093')).toEqual({
      voters: new Map([
        [1, { host: 'node-1', port: 9093 }],
        [2, { host: '10.0.0.2', port: 9193 }],
        [3, { host: '::1', port: 9093 }],
      ]),
    });
    expect(parseQuorumVoters('').voters.size).toBe(0);
  });

  it('names every entry that is not id@host:port', () => {
    const { problem } = parseQuorumVoters('a@h:1,1@h,1@h:0,1@h:70000,h:9093,1@:9093,1@a@b:9093');
    expect(problem).toMatch(/\(bad: "a@h:1", "1@h", "1@h:0", "1@h:70000", "h:9093", "1@:9093", "1@a@b:9093"\)$/);
  });

  it('refuses an id given twice and wildcard hosts', () => {
    expect(parseQuorumVoters('1@a:9093,2@b:9093,1@c:9093').problem).toBe(
      'voter id 1 appears 2 times (1@a:9093, 1@c:9093): each voter needs its own id',
    );
    expect(parseQuorumVoters('1@0.0.0.0:9093,2@[::]:9093').problem).toMatch(
      /not a wildcard \(bad: "1@0.0.0.0:9093", "2@\[::\]:9093"\)/,
    );
  });
});

describe('controller.listener.names', () => {
  it('upper-cases names as Kafka normalises them, and refuses duplicates', () => {
    expect(parseListenerNames('controller, RAFT')).toEqual({ names: ['CONTROLLER', 'RAFT'] });
    expect(parseListenerNames('CONTROLLER,controller').problem).toBe('names CONTROLLER more than once');
    expect(parseListenerNames('CON TROLLER').problem).toMatch(/must be listener names/);
  });
});
