// Wallet mode: sign an EIP-712 cumulative voucher per request with the browser's wallet
// (an injected EIP-1193 provider, e.g. MetaMask: eth_signTypedData_v4), or use a voucher
// pasted from `helio wallet voucher`. Same header format as node/client/vouchers.py.

import type { Message, PaymentsInfo } from "./api";

interface Eip1193 { request(args: { method: string; params?: unknown[] }): Promise<unknown> }
declare global { interface Window { ethereum?: Eip1193 } }

const PROMPT_OVERHEAD_TOKENS = 64;

export function hasInjectedWallet(): boolean {
  return typeof window !== "undefined" && !!window.ethereum;
}

/** keccak256(model id) is needed on-chain; the gateway accepts the hex we get from it. */
async function modelKey(modelId: string, info: PaymentsInfo): Promise<string> {
  const response = await fetch(`/v1/payments/model-key/${encodeURIComponent(modelId)}`);
  if (!response.ok) throw new Error(`cannot get the on-chain key of ${modelId} from ${info.payee}`);
  return (await response.json()).model_key;
}

/** Upper bound of the tokens a request can be charged (byte-level BPE: ≥ 1 byte a token). */
export function worstCaseTokens(messages: Message[], maxTokens: number): number {
  const text = messages.map((m) => m.content + m.role).join("");
  return new TextEncoder().encode(text).length + PROMPT_OVERHEAD_TOKENS + maxTokens;
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class BrowserWallet {
  chargedTotal = 0n;
  constructor(public info: PaymentsInfo, public channel: bigint, public account: string) {}

  static async connect(info: PaymentsInfo, channel: bigint): Promise<BrowserWallet> {
    if (!window.ethereum) throw new Error("no browser wallet found; paste a voucher instead");
    const accounts = (await window.ethereum.request({ method: "eth_requestAccounts" })) as string[];
    return new BrowserWallet(info, channel, accounts[0]);
  }

  async voucherFor(model: string, messages: Message[], maxTokens: number): Promise<string> {
    const amount = this.chargedTotal + BigInt(worstCaseTokens(messages, maxTokens)) * BigInt(this.info.price_per_token_wei);
    const message = {
      client: this.account,
      payee: this.info.payee,
      channel: this.channel.toString(),
      modelId: await modelKey(model, this.info),
      cumulativeAmount: amount.toString(),
      expiry: Math.floor(Date.now() / 1000) + 3600,
    };
    const typed = {
      types: {
        EIP712Domain: [
          { name: "name", type: "string" }, { name: "version", type: "string" },
          { name: "chainId", type: "uint256" }, { name: "verifyingContract", type: "address" },
        ],
        Voucher: [
          { name: "client", type: "address" }, { name: "payee", type: "address" },
          { name: "channel", type: "uint256" }, { name: "modelId", type: "bytes32" },
          { name: "cumulativeAmount", type: "uint256" }, { name: "expiry", type: "uint64" },
        ],
      },
      primaryType: "Voucher",
      domain: { name: "Heliomesh Payments", version: "1", chainId: this.info.chain_id,
                verifyingContract: this.info.payments_contract },
      message,
    };
    const signature = (await window.ethereum!.request({
      method: "eth_signTypedData_v4", params: [this.account, JSON.stringify(typed)],
    })) as string;
    return base64url(JSON.stringify({ ...message, chainId: this.info.chain_id,
      verifyingContract: this.info.payments_contract, signature }));
  }

  charged(total: string | null): void {
    if (total && BigInt(total) > this.chargedTotal) this.chargedTotal = BigInt(total);
  }
}
