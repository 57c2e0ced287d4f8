// The proxy's keep-alive connections to the API server, verified with the CA file's current content.
// After a CA change (rotation) new requests get a new agent with the new CA; the old agent is retired,
// not destroyed: its idle connections close now, and those in use (a watch, `logs -f`, an exec tunnel)
// run to their natural end instead of being cut, then close instead of returning to the pool.
import { Agent } from 'node:https';

export interface UpstreamAgent {
  /** The agent for a new request: built with the CA as it is now. */
  current(): Agent;
  /** Closes the current and every retired agent's connections (the proxy stops). */
  destroy(): void;
}

export function upstreamAgent(ca: () => string): UpstreamAgent {
  let pem = ca();
  let agent = build(pem);
  const retired = new Set<Agent>();
  return {
    current: () => {
      const now = ca();
      if (now !== pem) {
        retire(agent, retired);
        pem = now;
        agent = build(pem);
      }
      return agent;
    },
    destroy: () => {
      for (const old of retired) old.destroy();
      retired.clear();
      agent.destroy();
    },
  };
}

function build(ca: string): Agent {
  // lifo: the most recently used connection first, so the rest go idle and time out on the server.
  return new Agent({ keepAlive: true, ca, scheduling: 'lifo' });
}

/** No more requests go to `agent`; its idle sockets close now, its busy ones when their response ends. */
function retire(agent: Agent, retired: Set<Agent>): void {
  agent.keepSocketAlive = () => false;
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  retired.add(agent);
  // Forget it once nothing is open any more, so a long-running proxy keeps no dead agents.
  const forget = (): void => {
    const open = [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)].some((list) => (list?.length ?? 0) > 0);
    if (!open) {
      retired.delete(agent);
      agent.destroy();
    }
  };
  for (const sockets of Object.values(agent.sockets)) for (const socket of sockets ?? []) socket.once('close', () => setImmediate(forget));
  setImmediate(forget);
}
