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
// The client (src/client): producer, consumer (groups or assign), admin.
export { Producer } from './client/producer.ts'
export type { ProducerRecord, RecordMetadata, ClientOptions } from './client/producer.ts'
export { Consumer } from './client/consumer.ts'
export type { CommitCallback, CommittedPartition, ConsumerRecord, OffsetAndMetadata, OffsetAndTimestamp, RebalanceListener, TopicPartition } from './client/consumer.ts'
export { Admin, AdminError } from './client/admin.ts'
export type { NewTopic, TopicDescription, ConfigEntry, ConfigResourceType, OffsetSpec } from './client/admin.ts'
export type { GroupListing, GroupDescription, MemberDescription, CommittedOffset } from './client/admin.ts'
export { KafkaError, ConfigError } from './client/errors.ts'
export type { ConfigInput } from './client/config.ts'
export { murmur2, toPositive } from './client/murmur2.ts'
export { partitionForKey } from './client/partitioner.ts'
