import { describe, expect, it } from 'vitest';
import { textFacts } from '../../src/pii/detectors';
import { ipDetector } from '../../src/pii/detectors-net';
import { findPii } from '../../src/pii/engine';

// Edge cases of the IP address detector (src/pii/detectors-net.ts), written to kill the mutants the general
// detector tests (pii-detectors.test.ts) left alive.

function values(text: string): string[] {
  return ipDetector.find(text).map((s) => {
    expect(s.entity).toBe('IP_ADDRESS');
    return text.slice(s.start, s.end);
  });
}

/** Through the engine, so the detector's precheck decides whether it runs. */
function found(text: string): string[] {
  return findPii(text, ['IP_ADDRESS']).map((s) => text.slice(s.start, s.end));
}

describe('ipDetector precheck', () => {
  it('lets through an IPv6 loopback with one digit and an IPv4 address with four', () => {
    expect(found('host ::1 up')).toEqual(['::1']);
    expect(found('host 1.2.3.4 up')).toEqual(['1.2.3.4']);
  });

  it.each([
    ['no digit', 'std::vector and a::b'],
    ['digits but neither a colon nor a dot', 'call 555 0132 now'],
    ['a dot but fewer than four digits', 'version 1.2, build 7'],
  ])('skips a text with %s, which cannot hold an address', (_name, text) => {
    expect(ipDetector.precheck(textFacts(text))).toBe(false);
    expect(values(text)).toEqual([]);
  });

  it('does not report scope operators in a text that has digits elsewhere', () => {
    expect(found('a::b costs 2 cycles')).toEqual([]);
  });
});

describe('ipDetector IPv4', () => {
  it.each([
    ['at the start of the text', '10.0.0.1 is down', '10.0.0.1'],
    ['before a full stop', 'ping 10.0.0.1. Then retry', '10.0.0.1'],
    ['with one-digit octets', 'gw 1.2.3.4', '1.2.3.4'],
  ])('finds an address %s', (_name, text, value) => {
    expect(values(text)).toEqual([value]);
  });

  it.each([
    ['after a letter', 'build v1.2.3.4 released'],
    ['after a dot', 'name x.10.0.0.1 here'],
    ['before a letter', 'id 10.0.0.1abc'],
  ])('does not report a dotted quad glued %s', (_name, text) => {
    expect(values(text)).toEqual([]);
  });
});

describe('ipDetector IPv6', () => {
  it.each([
    ['after a label colon', 'ip:2001:db8::1', '2001:db8::1'],
    ['before a colon', 'addr fe80::1: reachable', 'fe80::1'],
    ['before a full stop', 'ping 2001:db8::1.', '2001:db8::1'],
    ['ending in "::"', 'route 2001:db8:: via gw', '2001:db8::'],
    [
      'of the longest textual form',
      'mapped 0000:0000:0000:0000:0000:ffff:255.255.255.255',
      '0000:0000:0000:0000:0000:ffff:255.255.255.255',
    ],
    ['far into a text', `${'word '.repeat(20)}peer 2001:db8::8a2e:370:7334 closed`, '2001:db8::8a2e:370:7334'],
  ])('finds an address %s', (_name, text, value) => {
    // Through the engine: the IPv4 tail of a mapped address is also a candidate, and the longer span wins.
    expect(found(text)).toEqual([value]);
  });

  it.each([
    ['scope operators', 'std::vector and a::b'],
    ['an address glued to a following letter', 'at 2001:db8::1zone'],
    ['an address glued to a preceding letter', 'at gz2001:db8::1'],
  ])('does not report %s', (_name, text) => {
    expect(values(text)).toEqual([]);
  });
});
