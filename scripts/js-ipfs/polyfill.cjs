// Preloaded with `node -r` before js-ipfs 0.66.1 (the npm package `ipfs`): some of its
// dependencies call Promise.withResolvers, which Node only has from version 22 on.
// registry/ipfs/js_ipfs.py starts the daemon with it; by hand:
//   IPFS_PATH=/tmp/repo node -r ./scripts/js-ipfs/polyfill.cjs node_modules/ipfs/src/cli.js daemon --offline
'use strict'
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
