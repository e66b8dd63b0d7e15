/**
 * The DatasetAttestation as portable EIP-712 typed data (pure): what `agora data show` prints, so any
 * EIP-712 library (ethers `verifyTypedData`, viem `verifyTypedData`, eth_signTypedData_v4 tooling)
 * can check the contributor's signature. Integers are decimal strings, as in eth_signTypedData_v4
 * JSON. The struct and domain are agreed with the DataRegistry contract (src/chain/typed-data.ts).
 */
import { type Address, getAddress, type Hex, recoverTypedDataAddress } from 'viem';
import { DATASET_ATTESTATION_TYPES, type DatasetAttestation, domains } from '../chain/typed-data.ts';
import { AgoraError } from '../errors.ts';

export type AttestationTypedData = {
  domain: { name: string; version: string; chainId: number; verifyingContract: Address };
  types: { DatasetAttestation: { name: string; type: string }[] };
  primaryType: 'DatasetAttestation';
  message: {
    root: Hex;
    records: string;
    bytes: string;
    licence: string;
    sector: string;
    manifestHash: Hex;
    contributor: Address;
    deadline: string;
  };
};

export function attestationTypedData(
  chainId: number,
  registry: Address,
  a: DatasetAttestation,
): AttestationTypedData {
  return {
    domain: domains.dataRegistry(chainId, registry),
    types: { DatasetAttestation: DATASET_ATTESTATION_TYPES.DatasetAttestation.map((f) => ({ ...f })) },
    primaryType: 'DatasetAttestation',
    message: {
      root: a.root,
      records: a.records.toString(),
      bytes: a.bytes.toString(),
      licence: a.licence,
      sector: a.sector,
      manifestHash: a.manifestHash,
      contributor: getAddress(a.contributor),
      deadline: a.deadline.toString(),
    },
  };
}

/** The attestation back as chain types (bigints). */
export function attestationFromTypedData(t: AttestationTypedData): DatasetAttestation {
  const m = t.message;
  return {
    root: m.root,
    records: BigInt(m.records),
    bytes: BigInt(m.bytes),
    licence: m.licence,
    sector: m.sector,
    manifestHash: m.manifestHash,
    contributor: m.contributor,
    deadline: BigInt(m.deadline),
  };
}

/** Recovers the signer of an attestation; throws a clear error when it is not the contributor. */
export async function checkAttestationSignature(t: AttestationTypedData, signature: Hex): Promise<Address> {
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: t.domain,
      types: DATASET_ATTESTATION_TYPES,
      primaryType: 'DatasetAttestation',
      message: attestationFromTypedData(t),
      signature,
    });
  } catch (e) {
    throw new AgoraError(
      'ATTESTATION_BAD_SIGNATURE',
      `the attestation signature is malformed: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (getAddress(signer) !== getAddress(t.message.contributor)) {
    throw new AgoraError(
      'ATTESTATION_FORGED',
      `the attestation is signed by ${signer}, not by its contributor ${t.message.contributor}`,
      { hint: 'only the contributor’s own key can sign its dataset attestation' },
    );
  }
  return signer;
}
