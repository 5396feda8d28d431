import { SyncBridgeError } from '../core/errors';
import type { AdapterDefinition } from './adapter';
import { sandboxProvider } from './providers/sandbox';
import { webhookOnlyProviders } from './providers/webhookOnly';

/** Every provider SyncBridge can connect to, by name. */
export class AdapterRegistry {
  private readonly definitions = new Map<string, AdapterDefinition>();

  constructor(definitions: readonly AdapterDefinition[] = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: AdapterDefinition): void {
    if (this.definitions.has(definition.provider)) {
      throw new SyncBridgeError('configuration', `Provider "${definition.provider}" is registered twice.`);
    }
    this.definitions.set(definition.provider, definition);
  }

  get(provider: string): AdapterDefinition {
    const definition = this.definitions.get(provider);
    if (!definition) {
      throw new SyncBridgeError('validation', `Unknown provider "${provider}". Known providers: ${this.names().join(', ')}.`);
    }
    return definition;
  }

  names(): string[] {
    return [...this.definitions.keys()].sort();
  }
}

export function defaultAdapterRegistry(): AdapterRegistry {
  return new AdapterRegistry([sandboxProvider, ...webhookOnlyProviders]);
}
