/**
 * A node's libp2p identity, kept across restarts (`<node dir>/peer.key`, protobuf-encoded Ed25519,
 * mode 0600) so that the multiaddr others bootstrap from stays the same. It signs nothing of value:
 * the node's account proves itself separately by signing this PeerId (src/net/auth.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { AgoraError } from '../errors.ts';

export async function loadOrCreatePeerKey(nodeDir: string): Promise<{ key: PrivateKey; peerId: string }> {
  const path = join(nodeDir, 'peer.key');
  let key: PrivateKey;
  if (existsSync(path)) {
    try {
      key = privateKeyFromProtobuf(new Uint8Array(readFileSync(path)));
    } catch (e) {
      throw new AgoraError(
        'NODE_PEER_KEY',
        `cannot read the node's libp2p key ${path}: ${(e as Error).message}`,
        {
          hint: 'move the file away; the node makes a new identity (peers must then use its new address)',
          cause: e,
        },
      );
    }
  } else {
    key = await generateKeyPair('Ed25519');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  }
  return { key, peerId: peerIdFromPrivateKey(key).toString() };
}
