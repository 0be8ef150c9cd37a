// JSON Schemas of the policy, keys, dev users and providers files, generated from the zod schemas (shipped in rbac/ for editors).
import { z } from 'zod';
import { keysSchema } from './keys-schema.js';
import { duration } from '../util/duration.js';
import { policySchema } from './policy-schema.js';
import { devUsersSchema, providersSchema } from './sign-in-schema.js';

type Json = Record<string, unknown>;

const NOTHING = { not: {} };

const DURATION_JSON: Json = {
  description:
    'a positive duration: seconds as a number, or a number with a unit ms, s, m, h, d (60s, 5m, 1h)',
  anyOf: [
    { type: 'number', exclusiveMinimum: 0 },
    { type: 'string', pattern: '^\\s*(\\d+(?:\\.\\d+)?)(ms|s|m|h|d)?\\s*$' },
  ],
};

function generate(schema: z.ZodType, title: string): Json {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    // Files are written in the input shape: durations as text, dates as ISO strings, defaults optional.
    io: 'input',
    // A Date only comes from code, never from a YAML or JSON file: that branch matches nothing.
    unrepresentable: (ctx) => (ctx.zodSchema._zod.def.type === 'date' ? NOTHING : 'throw'),
    override: (ctx) => {
      const js = ctx.jsonSchema as Json;
      if (ctx.zodSchema === duration._zod.def.in) {
        // The override edits the generated schema in place: every key but `default` goes.
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a JSON Schema object, not a map
        for (const k of Object.keys(js)) if (k !== 'default') delete js[k];
        Object.assign(js, DURATION_JSON);
      }
      if (Array.isArray(js.anyOf)) {
        js.anyOf = js.anyOf.filter((s) => JSON.stringify(s) !== JSON.stringify(NOTHING));
        if ((js.anyOf as unknown[]).length === 1) {
          Object.assign(js, (js.anyOf as Json[])[0]);
          delete js.anyOf;
        }
      }
    },
  }) as Json;
  const { $schema, ...rest } = json;
  return { $schema, title, ...rest };
}

/** The JSON Schema of the policy file. */
export function policyJsonSchema(): Json {
  return generate(policySchema, 'warden policy (rbac/policy.yaml)');
}

/** The JSON Schema of the API keys file. */
export function keysJsonSchema(): Json {
  return generate(keysSchema, 'warden API keys (rbac/keys.yaml)');
}

/** The schema files as shipped in rbac/: file name → text. */
export function schemaFiles(): Record<string, string> {
  return {
    'policy.schema.json': JSON.stringify(policyJsonSchema(), null, 2) + '\n',
    'keys.schema.json': JSON.stringify(keysJsonSchema(), null, 2) + '\n',
    'dev-users.schema.json':
      JSON.stringify(
        generate(devUsersSchema, 'warden dev users (rbac/dev-users.yaml, WARDEN_DEV_USERS)'),
        null,
        2,
      ) + '\n',
    'oidc-providers.schema.json':
      JSON.stringify(generate(providersSchema, 'warden sign-in providers (WARDEN_OIDC_PROVIDERS)'), null, 2) +
      '\n',
  };
}
