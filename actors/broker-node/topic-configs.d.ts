/**
 * Topic configs as Kafka resolves them: a topic's override, else the broker's setting of the
 * synonym (`retention.ms` ← `log.retention.ms`), else Kafka's default. Used to build each
 * partition's LogConfig and to answer DescribeConfigs with values and sources.
 */
import type { BrokerConfig } from '../../src/broker/broker-config.ts';
import { type LogConfig } from '../../src/log/log-config.ts';
import type { Logger } from '../../src/runtime/logger.ts';
/** Kafka's DescribeConfigs sources. */
export declare const ConfigSource: {
    readonly DYNAMIC_TOPIC_CONFIG: 1;
    readonly DYNAMIC_BROKER_CONFIG: 2;
    readonly DYNAMIC_DEFAULT_BROKER_CONFIG: 3;
    readonly STATIC_BROKER_CONFIG: 4;
    readonly DEFAULT_CONFIG: 5;
};
/** Topic config → the broker config that sets its default (Kafka's synonyms), with Kafka's default. */
export declare const TOPIC_CONFIGS: Readonly<Record<string, {
    broker: string;
    default: string;
}>>;
export interface ResolvedConfig {
    name: string;
    value: string;
    source: number;
    /** The broker synonym, when the value comes from the broker. */
    synonym: string;
}
/** The broker's settings as strings (the given config), and which were set explicitly. */
export interface BrokerSettings {
    config: Readonly<BrokerConfig>;
    /** Keys given explicitly (a file, --set, startBroker's `config`): STATIC_BROKER_CONFIG, the rest DEFAULT_CONFIG. */
    explicit: ReadonlySet<string>;
}
/** Every topic config, resolved: the override, else the broker's synonym, else the default. */
export declare function resolveTopicConfigs(settings: BrokerSettings, overrides: Readonly<Record<string, string>>): ResolvedConfig[];
/** The LogConfig of a topic; a value that does not parse is logged and left at its default. */
export declare function topicLogConfig(settings: BrokerSettings, overrides: Readonly<Record<string, string>>, logger?: Logger): LogConfig;
export declare function minInsyncReplicas(settings: BrokerSettings, overrides: Readonly<Record<string, string>>): number;
