/**
 * Nonces per account across concurrent sends in one process: each send holds its account's lock
 * from reading the node's pending count until the node has accepted (or refused) the signed
 * transaction, so two sends from one account never pick the same nonce, even on a chain that mines
 * every few seconds (without the lock, two sends read the same pending count). The nonce is always
 * the node's pending count, never a local counter: a send from another process, a dropped
 * transaction or a devnet snapshot revert cannot leave a gap. A node that lags behind its own pool
 * (a load-balanced RPC) is answered by the retry of a refused send ("nonce too low").
 */

type Slot = { lock: Promise<void> };

const slots = new Map<string, Slot>();

function slotOf(key: string): Slot {
  let s = slots.get(key);
  if (!s) {
    s = { lock: Promise.resolve() };
    slots.set(key, s);
  }
  return s;
}

const nodeIds = new WeakMap<object, number>();
let lastNodeId = 0;

/**
 * The key of an account on one node: two nodes of the same chain id (two devnets, anvil and the
 * embedded chain) have separate nonces. `node` is the connection's transport or provider object,
 * `endpoint` its URL (connections to one URL share their nonces).
 */
export function nonceKey(node: { endpoint: string; transport: object }, address: string): string {
  let where = node.endpoint;
  if (!/^(https?|wss?):/.test(where)) {
    let id = nodeIds.get(node.transport);
    if (id === undefined) {
      id = ++lastNodeId;
      nodeIds.set(node.transport, id);
    }
    where = `${where}#${id}`;
  }
  return `${where}:${address.toLowerCase()}`;
}

/**
 * Runs `send(nonce)` with the account's next nonce (`pending`: the node's pending transaction
 * count), one send per account at a time.
 */
export async function withNextNonce<T>(
  key: string,
  pending: () => Promise<number>,
  send: (nonce: number) => Promise<T>,
): Promise<T> {
  const slot = slotOf(key);
  const prev = slot.lock;
  let release!: () => void;
  slot.lock = new Promise<void>((r) => {
    release = r;
  });
  await prev;
  try {
    return await send(await pending());
  } finally {
    release();
  }
}
