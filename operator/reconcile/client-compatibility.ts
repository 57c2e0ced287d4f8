// ClientsCompatible: whether every client library keeps authenticating with what the profile
// injects, as far as the operator can know (docs/clients.md is the measured matrix; decision 0017).
// A warning, not part of Ready: the workload's client may be one that copes.
import { DEFAULT_TOKEN_EXPIRATION_SECONDS } from '../../crds/apiaccessprofile.ts';
import type { ResolvedProfile } from '../desired/profile.ts';
import { ConditionType, Reason, type ConditionInput } from './conditions.ts';
import type { CredentialsObservation } from './profile-status.ts';

/** Clients that read the token file once, at start (measured: docs/clients.md). */
export const READ_ONCE_CLIENTS = 'the Python client and @kubernetes/client-node';

export function clientCompatibility(profile: ResolvedProfile, credentials?: CredentialsObservation): ConditionInput | undefined {
  const k = profile.kubeconfig;
  const type = ConditionType.ClientsCompatible;
  if (credentials?.source === 'ConfigMap' && credentials.found && credentials.inspection?.ok === true) {
    const file = credentials.inspection.tokenFileOnly;
    if (file === undefined) return undefined;
    return {
      type,
      status: 'False',
      reason: Reason.TokenFileIgnored,
      message: `ConfigMap ${credentials.name} key "${credentials.key}": user ${credentials.inspection.user} names tokenFile only, which @kubernetes/client-node ignores (it sends no credential); add token-file: ${file} beside it, or use auth: Proxy`,
    };
  }
  if (profile.auth !== 'Kubeconfig' || k === undefined || k.source !== 'Generated') return undefined;
  const extended = k.tokenExpirationSeconds === DEFAULT_TOKEN_EXPIRATION_SECONDS && k.audience === undefined;
  if (extended) {
    return {
      type,
      status: 'True',
      reason: Reason.AllClientsRotate,
      message: `The token lives ${DEFAULT_TOKEN_EXPIRATION_SECONDS} s, which the API server extends to a year for Pod-bound tokens: clients that re-read tokenFile (client-go, kubectl) switch to each rotated token, ${READ_ONCE_CLIENTS} keep the first one for the Pod's life`,
    };
  }
  const why = k.audience !== undefined ? `the token has audience "${k.audience}", which the API server does not extend` : `spec.kubeconfig.tokenExpirationSeconds is ${k.tokenExpirationSeconds}, not ${DEFAULT_TOKEN_EXPIRATION_SECONDS}`;
  return {
    type,
    status: 'False',
    reason: Reason.TokenExpiresForReadOnceClients,
    message: `${why}: ${READ_ONCE_CLIENTS} read the token once and get 401 Unauthorized after ${k.tokenExpirationSeconds} s; client-go and kubectl re-read it. Leave tokenExpirationSeconds and audience unset, or use auth: Proxy, for those clients`,
  };
}
