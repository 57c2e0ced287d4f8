import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from './jwt.ts';

const token = (payload: unknown): string => ['eyJhbGciOiJSUzI1NiJ9', Buffer.from(JSON.stringify(payload)).toString('base64url'), 'c2ln'].join('.');

describe('JWT claims (signature not verified)', () => {
  it('GIVEN a projected ServiceAccount token THEN every claim a person needs is read, times as dates', () => {
    const decoded = decodeJwt(
      token({
        iss: 'https://kubernetes.default.svc',
        sub: 'system:serviceaccount:team-a:reader',
        aud: 'https://kubernetes.default.svc',
        iat: 1_900_000_000,
        nbf: 1_900_000_000,
        exp: 1_900_003_600,
        'kubernetes.io': { namespace: 'team-a', serviceaccount: { name: 'reader' }, pod: { name: 'web-0' } },
      }),
    );
    assert.deepEqual(decoded, {
      ok: true,
      claims: {
        subject: 'system:serviceaccount:team-a:reader',
        issuer: 'https://kubernetes.default.svc',
        audience: ['https://kubernetes.default.svc'],
        issuedAt: new Date(1_900_000_000_000),
        notBefore: new Date(1_900_000_000_000),
        expiresAt: new Date(1_900_003_600_000),
        namespace: 'team-a',
        serviceAccount: 'reader',
        pod: 'web-0',
      },
    });
  });

  it('GIVEN claims of the wrong types THEN they are left out rather than trusted', () => {
    const decoded = decodeJwt(token({ sub: '', aud: ['a', 7], exp: 'soon' }));
    assert.deepEqual(decoded, { ok: true, claims: { audience: ['a'] } });
  });

  const notJwts: Array<[string, string, RegExp]> = [
    ['an opaque static token', 'opaque-static-token', /three dot-separated parts/],
    ['an empty part', 'a..c', /three dot-separated parts/],
    ['a payload that is not base64url JSON', 'a.b.c', /not base64url JSON/],
    ['a payload that is a JSON list', token([1, 2]), /not a JSON object/],
  ];
  for (const [what, value, problem] of notJwts) {
    it(`GIVEN ${what} THEN it is not a JWT, and says why`, () => {
      const decoded = decodeJwt(value);
      assert.equal(decoded.ok, false);
      if (!decoded.ok) assert.match(decoded.problem, problem);
    });
  }
});
