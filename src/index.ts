/**
 * peerlog as a library: what `import … from 'peerlog'` gives. It grows with the
 * project; for now it is the storage seam and its file-system implementation,
 * and the CRC32C the record format uses.
 */
export type { OpenOptions, Storage, StorageFile } from './log/storage.ts'
export { StorageError } from './log/storage.ts'
export { FsStorage } from './log/fs-storage.ts'
export { crc32c } from './record/crc32c.ts'
export { startBroker } from './broker/start-broker.ts'
export type { RunningBroker, StartBrokerOptions } from './broker/start-broker.ts'
export type { BrokerConfig } from './broker/broker-config.ts'
