import { useEffect, useRef, useState } from "react";
import { ApiError, listModels, paymentsInfo, streamChat, type Message } from "./api";
import { BrowserWallet, hasInjectedWallet } from "./wallet";

type Mode = "free" | "wallet";

export function Chat() {
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState("");
  const [mode, setMode] = useState<Mode>("free");
  const [voucher, setVoucher] = useState("");
  const [channel, setChannel] = useState("");
  const [wallet, setWallet] = useState<BrowserWallet | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [input, setInput] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    listModels()
      .then((ids) => { setModels(ids); setModel((m) => m || ids[0] || ""); })
      .catch((e: Error) => setError(`cannot list models: ${e.message}`));
  }, []);

  async function connectWallet() {
    try {
      setWallet(await BrowserWallet.connect(await paymentsInfo(), BigInt(channel || "0")));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function send() {
    const text = input.trim();
    if (!text || !model || busy) return;
    const history: Message[] = [...messages, { role: "user", content: text }];
    setMessages([...history, { role: "assistant", content: "" }]);
    setInput("");
    setError(null);
    setBusy(true);
    abort.current = new AbortController();
    const maxTokens = 128;
    try {
      let header: string | undefined;
      if (mode === "wallet") header = wallet ? await wallet.voucherFor(model, history, maxTokens) : voucher.trim() || undefined;
      await streamChat(
        { model, messages: history, maxTokens, temperature: 0, voucher: header, signal: abort.current.signal,
          onHeaders: (h) => wallet?.charged(h.get("X-Helio-Charged-Total")) },
        (delta) => setMessages((all) => {
          const last = all[all.length - 1];
          return [...all.slice(0, -1), { ...last, content: last.content + delta }];
        }),
      );
    } catch (e) {
      if ((e as Error).name !== "AbortError") {
        const err = e as ApiError;
        setError(err.code ? `${err.message} (${err.code})` : err.message);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="chat">
      <div className="toolbar">
        <label>Model{" "}
          <select aria-label="model" value={model} onChange={(e) => setModel(e.target.value)}>
            {models.map((m) => <option key={m}>{m}</option>)}
          </select>
        </label>
        <label><input type="radio" checked={mode === "free"} onChange={() => setMode("free")} /> Free tier</label>
        <label><input type="radio" checked={mode === "wallet"} onChange={() => setMode("wallet")} /> Wallet</label>
        {mode === "wallet" && (
          hasInjectedWallet() ? (
            <span>
              <input placeholder="channel id" value={channel} onChange={(e) => setChannel(e.target.value)} size={8} />
              <button onClick={connectWallet}>{wallet ? `signing as ${wallet.account.slice(0, 8)}…` : "Connect wallet"}</button>
            </span>
          ) : (
            <input className="voucher" placeholder="X-Helio-Voucher (helio wallet voucher …)" value={voucher}
                   onChange={(e) => setVoucher(e.target.value)} />
          )
        )}
      </div>
      <ol className="messages" aria-label="messages">
        {messages.map((m, i) => (
          <li key={i} className={m.role} data-role={m.role}>{m.content || (busy ? "…" : "")}</li>
        ))}
      </ol>
      {error && <p className="error" role="alert">{error}</p>}
      <form onSubmit={(e) => { e.preventDefault(); void send(); }}>
        <input aria-label="message" placeholder="Ask something…" value={input} onChange={(e) => setInput(e.target.value)} />
        {busy ? <button type="button" onClick={() => abort.current?.abort()}>Stop</button>
              : <button type="submit" disabled={!model}>Send</button>}
      </form>
    </section>
  );
}
