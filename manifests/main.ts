// The cdk8s app: `npm run synth` (cdk8s synth) writes manifests/dist/, committed for kubectl and GitOps.
import { join } from 'node:path';
import { App, YamlOutputType } from 'cdk8s';
import { Examples } from './examples.ts';
import { OperatorInstall } from './operator-install.ts';
import { packageRoot, packageVersion } from './package-root.ts';

export { DEFAULT_IMAGE } from '../operator/desired/operator-image.ts';
import { DEFAULT_IMAGE } from '../operator/desired/operator-image.ts';

export function buildApp(outdir?: string): App {
  const app = new App({ outdir: outdir ?? process.env.CDK8S_OUTDIR ?? join(packageRoot(), 'manifests', 'dist'), yamlOutputType: YamlOutputType.FILE_PER_CHART });
  new OperatorInstall(app, 'operator', { image: DEFAULT_IMAGE, version: `v${packageVersion()}` });
  new Examples(app, 'examples');
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) buildApp().synth();
