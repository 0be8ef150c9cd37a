// The console's keys page: the keys file's and the store's API keys, their last use, "Revoke…" for each.
import type { KeyRow } from './data.js';
import { Layout, Time, type Viewer } from './layout.js';

/** /console/keys: keys of the file and the store, never a key or a hash. */
export function KeysPage(props: { viewer: Viewer; keys: KeyRow[]; storedUnavailable: string | null }) {
  return (
    <Layout title="Keys" current="/console/keys" viewer={props.viewer}>
      <p class="source">
        API keys of the keys file and, with WARDEN_KEYS_STORE=redis, the store. Keys and their hashes are
        never shown.
      </p>
      {props.storedUnavailable ? (
        <p class="notice error" role="alert">
          {props.storedUnavailable}
        </p>
      ) : null}
      {props.keys.length === 0 ? (
        <p class="empty">No API keys yet: create one with `warden keys create` (docs/keys.md).</p>
      ) : (
        <div class="scroll" tabindex={0} role="region" aria-label="Keys">
          <table>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Where</th>
                <th scope="col">Name</th>
                <th scope="col">Roles</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {props.keys.map((k) => (
                <tr>
                  <td class="mono">{k.id}</td>
                  <td>{k.source === 'file' ? 'keys file' : 'store'}</td>
                  <td>{k.name ?? ''}</td>
                  <td>{k.roles.join(', ')}</td>
                  <td>
                    <Time ms={k.expiresAt} empty="never" />
                  </td>
                  <td>
                    <Time
                      ms={k.lastUsed}
                      empty={k.source === 'file' ? 'not seen by this replica' : 'never'}
                    />
                    {k.lastUsedBy === 'this replica' ? ' (this replica)' : ''}
                  </td>
                  <td>{k.revoked ? 'revoked' : 'active'}</td>
                  <td>
                    {props.viewer.canAct && !k.revoked ? (
                      <form method="get" action="/console/revocations/confirm">
                        <input type="hidden" name="type" value="key" />
                        <input type="hidden" name="id" value={k.id} />
                        <button type="submit" aria-label={`Revoke… ${k.id}`}>
                          Revoke…
                        </button>
                      </form>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
