/**
 * Control records: the records of a control batch (attributes bit 5), which the log
 * keeps but consumers never see as data. Their key says what they are:
 *
 *   key   := version: int16 (0), type: int16        (Kafka's ControlRecordType)
 *              0 ABORT, 1 COMMIT                     transaction markers
 *              2 LEADER_CHANGE, 3 SNAPSHOT_HEADER, 4 SNAPSHOT_FOOTER,
 *              5 KRAFT_VERSION, 6 KRAFT_VOTERS       KRaft's metadata log
 *
 * An end-transaction marker (COMMIT or ABORT; Kafka's EndTransactionMarker, the
 * EndTxnMarker message spec) has this value:
 *
 *   value := version: int16 (0), coordinatorEpoch: int32
 *
 * and sits alone in a batch written as MemoryRecords.withEndTransactionMarker does:
 * transactional + control, uncompressed, CreateTime, the producer's id and epoch,
 * baseSequence -1, one record at offset delta 0 whose timestamp is the batch's base
 * and max timestamp, no headers. Reading follows Kafka's leniency: a key or value with
 * a newer version is read as version 0 (its first fields keep their meaning); a
 * negative version, or fewer bytes than version 0 needs, is corruption.
 */
import { CorruptRecordError } from './errors.ts'
import { buildRecordBatch } from './record-batch.ts'
import type { Record } from './record.ts'

export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const
/** A known type, or another int16 from a newer broker (Kafka's UNKNOWN, which readers skip). */
export type ControlRecordType = number

export const CONTROL_RECORD_KEY_VERSION = 0
export const CONTROL_RECORD_KEY_SIZE = 4
export const END_TXN_MARKER_VERSION = 0
export const END_TXN_MARKER_VALUE_SIZE = 6

export interface ControlRecordKey {
  version: number
  type: ControlRecordType
}

export interface EndTransactionMarker {
  type: typeof ControlRecordType.ABORT | typeof ControlRecordType.COMMIT
  coordinatorEpoch: number
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

export function encodeControlRecordKey(type: ControlRecordType): Uint8Array {
  const key = new Uint8Array(CONTROL_RECORD_KEY_SIZE)
  const dv = view(key)
  dv.setInt16(0, CONTROL_RECORD_KEY_VERSION)
  dv.setInt16(2, type)
  return key
}

export function decodeControlRecordKey(key: Uint8Array | null): ControlRecordKey {
  if (key === null || key.length < CONTROL_RECORD_KEY_SIZE) {
    throw new CorruptRecordError(`control record key needs ${CONTROL_RECORD_KEY_SIZE} bytes, has ${key?.length ?? 'none (null)'}`)
  }
  const dv = view(key)
  const version = dv.getInt16(0)
  if (version < 0) throw new CorruptRecordError(`control record key has invalid version ${version}`)
  return { version, type: dv.getInt16(2) }
}

export function isEndTransactionMarkerType(type: ControlRecordType): type is EndTransactionMarker['type'] {
  return type === ControlRecordType.ABORT || type === ControlRecordType.COMMIT
}

export function encodeEndTransactionMarkerValue(coordinatorEpoch: number): Uint8Array {
  const value = new Uint8Array(END_TXN_MARKER_VALUE_SIZE)
  const dv = view(value)
  dv.setInt16(0, END_TXN_MARKER_VERSION)
  dv.setInt32(2, coordinatorEpoch)
  return value
}

/** Reads the marker of a control record; throws when the record is another kind of control record. */
export function decodeEndTransactionMarker(record: Pick<Record, 'key' | 'value'>): EndTransactionMarker {
  const { type } = decodeControlRecordKey(record.key)
  if (!isEndTransactionMarkerType(type)) {
    throw new CorruptRecordError(`control record type ${type} is not an end-transaction marker`)
  }
  const value = record.value
  if (value === null || value.length < END_TXN_MARKER_VALUE_SIZE) {
    throw new CorruptRecordError(`end-transaction marker value needs ${END_TXN_MARKER_VALUE_SIZE} bytes, has ${value?.length ?? 'none (null)'}`)
  }
  const dv = view(value)
  const version = dv.getInt16(0)
  if (version < 0) throw new CorruptRecordError(`end-transaction marker has invalid version ${version}`)
  return { type, coordinatorEpoch: dv.getInt32(2) }
}

export interface EndTransactionMarkerBatchOptions {
  baseOffset?: number
  /** The marker's timestamp: the coordinator's clock. */
  timestamp: number
  partitionLeaderEpoch?: number
  producerId: number
  producerEpoch: number
  marker: EndTransactionMarker
}

/** A complete control batch holding one COMMIT or ABORT marker. */
export function buildEndTransactionMarkerBatch(options: EndTransactionMarkerBatchOptions): Uint8Array {
  const { marker } = options
  if (!isEndTransactionMarkerType(marker.type)) {
    throw new RangeError(`control record type ${String(marker.type)} is not an end-transaction marker`)
  }
  return buildRecordBatch(
    [
      {
        key: encodeControlRecordKey(marker.type),
        value: encodeEndTransactionMarkerValue(marker.coordinatorEpoch),
        timestamp: options.timestamp,
      },
    ],
    {
      baseOffset: options.baseOffset ?? 0,
      partitionLeaderEpoch: options.partitionLeaderEpoch,
      producerId: options.producerId,
      producerEpoch: options.producerEpoch,
      isTransactional: true,
      isControl: true,
    },
  )
}
