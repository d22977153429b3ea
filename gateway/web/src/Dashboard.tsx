import { useEffect, useState } from "react";
import { watchSwarm, type Energy, type Snapshot, type SwarmModel } from "./api";

const HELIO = 10n ** 18n;

function helio(wei: string | null): string {
  if (wei === null) return "–";
  const value = BigInt(wei);
  return `${value / HELIO}${value % HELIO ? "." + (value % HELIO).toString().padStart(18, "0").slice(0, 2) : ""}`;
}

function zone(offset: number | null | undefined): string {
  if (offset === null || offset === undefined) return "";
  const sign = offset < 0 ? "−" : "+";
  const abs = Math.abs(offset);
  return `UTC${sign}${Math.floor(abs)}${abs % 1 ? ":" + String(Math.round((abs % 1) * 60)).padStart(2, "0") : ""}`;
}

/** Energy cells: state, headroom, battery, capacity, local time (from the verified claim). */
function EnergyCells({ energy, rejected }: { energy: Energy | null; rejected?: string | null }) {
  if (!energy) {
    return (
      <>
        <td className="energy" title={rejected ?? "no energy report"}>{rejected ? "unverified" : "–"}</td>
        <td className="headroom">–</td><td className="battery">–</td><td className="capacity">–</td><td className="local">–</td>
      </>
    );
  }
  const title = `${energy.source === "dht" ? "signed report in its DHT record, verified" : "latest report on the chain"}` +
    (energy.age_s !== undefined ? `, ${Math.round(energy.age_s)} s old` : "");
  return (
    <>
      <td className={`energy ${energy.state}${energy.stale ? " stale" : ""}`} title={title} data-source={energy.source}>{energy.state}</td>
      <td className="headroom">{energy.headroom_w} W</td>
      <td className="battery">{energy.battery_soc === null ? "–" : `${Math.round(energy.battery_soc * 100)} %`}</td>
      <td className="capacity">{energy.capacity === undefined ? "–" : `${energy.sessions ?? 0}/${energy.capacity}`}</td>
      <td className="local">{energy.local_time ? `${energy.local_time} ${zone(energy.utc_offset_h)}` : zone(energy.utc_offset_h) || "–"}</td>
    </>
  );
}

function Coverage({ model }: { model: SwarmModel }) {
  const counts = Array.from({ length: model.num_blocks }, (_, b) =>
    model.servers.filter((s) => s.state === "online" && s.start <= b && b < s.end).length);
  return (
    <div className="coverage" aria-label={`coverage of ${model.id}`}>
      {counts.map((n, b) => (
        <span key={b} className={n === 0 ? "gap" : n === 1 ? "single" : "multi"} title={`block ${b}: ${n} server(s)`} data-block={b} data-servers={n} />
      ))}
    </div>
  );
}

export function Dashboard() {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => watchSwarm((s) => { setSnapshot(s); setError(null); }, setError), []);

  if (!snapshot) return <p>Connecting to the swarm…</p>;
  return (
    <section className="dashboard">
      <div className="cards">
        <div className="card"><b data-testid="rpm">{snapshot.metrics.requests_per_minute}</b> requests / min</div>
        <div className="card"><b>{snapshot.metrics.completion_tokens_per_minute}</b> tokens / min</div>
        <div className="card"><b>{snapshot.engine.active}</b> generating now</div>
        <div className="card">chain {snapshot.chain.connected ? snapshot.chain.chain_id : "off"} · payments {snapshot.payments.on_chain ? "on-chain" : "off-chain"}</div>
      </div>
      {error && <p className="error">{error}</p>}
      {snapshot.models.map((model) => (
        <article key={model.id} data-model={model.id}>
          <h2>{model.id} <small>{model.num_blocks} blocks · {model.servers.length} server(s) · {model.gaps.length ? `gaps: ${model.gaps.map(([a, b]) => `${a}–${b - 1}`).join(", ")}` : "fully covered"}</small></h2>
          {model.energy_admission && (
            <p className="admission" data-testid="admission">
              energy admission: {model.energy_admission.active} session(s) held · {model.energy_admission.waiting} waiting ·
              at most {model.energy_admission.users_per_inferer} users per inferer · {model.energy_admission.refused} refused at capacity
            </p>
          )}
          <Coverage model={model} />
          <p className="legend"><span className="gap" /> gap <span className="single" /> one server <span className="multi" /> several servers</p>
          <table>
            <thead>
              <tr><th>server</th><th>inferer</th><th>blocks</th><th>state</th><th>tok/s</th><th>energy</th><th>headroom</th><th>battery</th><th title="sessions open / sessions its energy allows">sessions</th><th>local time</th><th>stake (HELIO)</th><th>reputation</th></tr>
            </thead>
            <tbody>
              {model.servers.map((s) => (
                <tr key={s.server} className="server">
                  <td>{s.server}</td>
                  <td title={s.address}>{s.address.slice(0, 10)}…</td>
                  <td className="blocks">{s.start}–{s.end - 1}</td>
                  <td>{s.state}</td>
                  <td>{s.throughput_tps.toFixed(1)}</td>
                  <EnergyCells energy={s.energy} rejected={s.energy_rejected} />
                  <td>{helio(s.stake_wei)}</td>
                  <td>{s.reputation ? `${s.reputation.passed}✓ ${s.reputation.failed}✗${s.reputation.jailed ? " jailed" : ""}` : "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </article>
      ))}
    </section>
  );
}
