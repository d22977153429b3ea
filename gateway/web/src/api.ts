// The gateway's HTTP API as the web app uses it: models, streamed chat (SSE over fetch),
// payment info, and the dashboard's snapshot stream.

export type Role = "system" | "user" | "assistant";
export interface Message { role: Role; content: string }

export interface PaymentsInfo {
  payee: string;
  chain_id: number;
  payments_contract: string;
  on_chain: boolean;
  price_per_token_wei: number;
  default_max_tokens: number;
  models: string[];
}

export class ApiError extends Error {
  constructor(public status: number, message: string, public code: string | null) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = await response.json();
    return new ApiError(response.status, body.error?.message ?? response.statusText, body.error?.code ?? null);
  } catch {
    return new ApiError(response.status, response.statusText, null);
  }
}

export async function listModels(): Promise<string[]> {
  const response = await fetch("/v1/models");
  if (!response.ok) throw await errorOf(response);
  const body = await response.json();
  return body.data.map((m: { id: string }) => m.id);
}

export async function paymentsInfo(): Promise<PaymentsInfo> {
  const response = await fetch("/v1/payments");
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export interface ChatOptions {
  model: string;
  messages: Message[];
  maxTokens: number;
  temperature: number;
  voucher?: string; // X-Helio-Voucher header value (wallet mode)
  signal?: AbortSignal;
  onHeaders?: (headers: Headers) => void;
}

/** Stream a chat completion; calls onDelta for each text piece; returns the finish reason. */
export async function streamChat(options: ChatOptions, onDelta: (text: string) => void): Promise<string | null> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (options.voucher) headers["X-Helio-Voucher"] = options.voucher;
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers,
    signal: options.signal,
    body: JSON.stringify({
      model: options.model,
      messages: options.messages,
      max_tokens: options.maxTokens,
      temperature: options.temperature,
      stream: true,
    }),
  });
  if (!response.ok || !response.body) throw await errorOf(response);
  options.onHeaders?.(response.headers);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finish: string | null = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") return finish;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(500, chunk.error.message, chunk.error.code);
      const choice = chunk.choices?.[0];
      if (choice?.delta?.content) onDelta(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
  }
  return finish;
}

export interface Server {
  server: string;
  address: string;
  start: number;
  end: number;
  state: string;
  throughput_tps: number;
  stake_wei: string | null;
  energy: Energy | null;
  energy_rejected?: string | null; // why its DHT energy claim was ignored
  reputation: { passed: number; failed: number; jailed?: boolean } | null;
}

/** An inferer's energy: its verified DHT claim ("dht") or its latest on-chain report ("chain"). */
export interface Energy {
  source: "dht" | "chain";
  state: string;
  headroom_w: number;
  battery_soc: number | null; // 0..1
  capacity?: number; // sessions its energy allows now (dht)
  sessions?: number;
  utc_offset_h?: number | null;
  local_time?: string | null; // HH:MM on the inferer's energy clock (dht)
  age_s?: number;
  stale?: boolean;
}

export interface EnergyAdmission { users_per_inferer: number; active: number; waiting: number; admitted: number; refused: number }

export interface SwarmModel {
  id: string;
  num_blocks: number;
  servers: Server[];
  gaps: [number, number][];
  energy_admission?: EnergyAdmission | null;
}

export interface Snapshot {
  time: number;
  models: SwarmModel[];
  metrics: { requests_per_minute: number; completion_tokens_per_minute: number; requests: Record<string, number> };
  engine: { active: number; completed: number };
  chain: { connected: boolean; chain_id: number; stake: string; models: string };
  payments: { on_chain: boolean; batches_redeemed: number; vouchers_redeemed: number };
}

/** Live snapshots over SSE; returns a function that stops listening. */
export function watchSwarm(onSnapshot: (s: Snapshot) => void, onError: (e: string) => void): () => void {
  const source = new EventSource("/api/swarm/events?interval=1");
  source.onmessage = (event) => onSnapshot(JSON.parse(event.data));
  source.onerror = () => onError("dashboard stream interrupted; reconnecting…");
  return () => source.close();
}
