/**
 * What the controller actor accepts: one request (answered through `reply`, or `fail` when the
 * metadata log could not be written) at a time, in mailbox order.
 */
import type {
  AlterConfigsResource,
  ConfigResourceType,
  CreatableTopic,
  CreatePartitionsTopic,
  CreateTopicResult,
  DeleteTopicResult,
  ItemResult,
  TopicId,
} from '../../src/cluster/metadata.ts'

export interface RegisterBrokerReply {
  /** false when the broker was already registered with the same listener and rack. */
  registered: boolean
  brokerEpoch: bigint | null
}

export type ControllerRequest =
  | { type: 'createTopics'; topics: readonly CreatableTopic[]; validateOnly: boolean }
  | { type: 'deleteTopics'; topics: readonly { name?: string; topicId?: TopicId }[] }
  | { type: 'createPartitions'; topics: readonly CreatePartitionsTopic[]; validateOnly: boolean }
  | { type: 'alterConfigs'; resources: readonly AlterConfigsResource[]; validateOnly: boolean; incremental: boolean }
  | { type: 'registerBroker'; nodeId: number; host: string; port: number; rack: string | null }

/** The request of one type. */
export type RequestOf<T extends ControllerRequest['type']> = Extract<ControllerRequest, { type: T }>

export interface ReplyOf {
  createTopics: CreateTopicResult[]
  deleteTopics: DeleteTopicResult[]
  createPartitions: ItemResult[]
  alterConfigs: (ItemResult & { type: ConfigResourceType })[]
  registerBroker: RegisterBrokerReply
}

export type ControllerReply = ReplyOf[keyof ReplyOf]

export type ControllerMessage = {
  type: 'request'
  request: ControllerRequest
  reply: (reply: ControllerReply) => void
  fail: (error: Error) => void
}
