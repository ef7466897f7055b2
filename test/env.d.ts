// Types for `env` and `exports` from cloudflare:workers inside the workerd tests.
import type { Env as HeraldEnv } from '../src/channel';

declare global {
  namespace Cloudflare {
    interface Env extends HeraldEnv {}
    interface GlobalProps {
      mainModule: typeof import('../src/index');
      durableNamespaces: 'Channel';
    }
  }
}
