// hyperswarm and hyperdht ship no type declarations. They are untyped here on purpose: the
// one module that loads them (hyperswarm-transport.ts) states the little of their API it uses
// as interfaces and casts to those, so nothing else depends on their shapes.
declare module 'hyperswarm'
declare module 'hyperdht'
declare module 'hyperdht/testnet.js'
