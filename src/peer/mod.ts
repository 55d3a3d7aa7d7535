/** The control plane between agents: what the run orchestrator uses. */
export { monitorKey } from "./auth.ts";
export { type ConnectedPeers, type ConnectOptions, connectPeers, PeerError } from "./connect.ts";
export { type PeerEvent, PeerGroup } from "./group.ts";
export type {
  DivergenceMsg,
  ExitMsg,
  FatalMsg,
  PeerMsg,
  ReportDataMsg,
  RunMsg,
  StartMsg,
} from "./messages.ts";
export { PROTOCOL_VERSION } from "./messages.ts";
