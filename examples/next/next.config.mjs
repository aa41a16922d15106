// The ward runs as Node.js modules, not bundled: MikroORM loads its driver at run time, and the
// ward serves the client's script-tag bundle from the installed @sessionward/client.
export default {
  serverExternalPackages: ['@sessionward/server', '@mikro-orm/core', '@mikro-orm/pglite'],
}
