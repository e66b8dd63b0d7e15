/** The JSON-friendly summary of an on-chain dataset, as `data show` and provenance reports print it. */
import type { Address, Hex } from 'viem';
import type { Dataset } from '../chain/data-registry.ts';

export type DatasetSummary = {
  datasetId: string;
  root: Hex;
  records: number;
  bytes: number;
  licence: string;
  sector: string;
  contributor: Address;
};

export function summarizeDataset(datasetId: bigint, d: Dataset): DatasetSummary {
  return {
    datasetId: datasetId.toString(),
    root: d.root,
    records: Number(d.records),
    bytes: Number(d.bytes),
    licence: d.licence,
    sector: d.sector,
    contributor: d.contributor,
  };
}
