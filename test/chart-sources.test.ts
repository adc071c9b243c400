import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config';
import { findInIndex } from '../src/render/chart-fetch';
import { checkedAddress, parseChartRepositories, repositoryAllowed, specialAddress } from '../src/render/chart-sources';
import { chartLayer, ociLocation } from '../src/render/oci-fetch';

describe('chart sources', () => {
  test('FERRY_CHART_REPOSITORIES lists prefixes; a bad entry stops start-up naming it', () => {
    const sources = parseChartRepositories('https://Charts.Example.com/stable, oci://ghcr.io/acme\nhttp://10.0.0.5:8080');
    assert.deepEqual(sources.allowed, ['https://charts.example.com/stable/', 'oci://ghcr.io/acme/', 'http://10.0.0.5:8080/']);
    assert.deepEqual(parseChartRepositories(undefined).allowed, []);
    assert.throws(() => loadConfig({ FERRY_CHART_REPOSITORIES: 'ftp://x.example' }), /FERRY_CHART_REPOSITORIES: "ftp:\/\/x\.example" must be an http\(s\):\/\/ or oci:\/\/ URL/);
    assert.throws(() => loadConfig({ FERRY_CHART_REPOSITORIES: 'https://user:pw@x.example' }), /must not hold credentials/);
  });

  test('a repository must lie below a listed prefix, whole segments only', () => {
    const sources = parseChartRepositories('https://charts.example.com/stable, oci://ghcr.io/acme');
    assert.equal(repositoryAllowed(sources, 'https://charts.example.com/stable'), true);
    assert.equal(repositoryAllowed(sources, 'https://CHARTS.example.com/stable/sub'), true);
    assert.equal(repositoryAllowed(sources, 'oci://ghcr.io/acme/charts'), true);
    assert.equal(repositoryAllowed(sources, 'oci://ghcr.io/acme-evil/charts'), false);
    assert.equal(repositoryAllowed(sources, 'https://charts.example.com.evil.net/stable'), false);
    assert.equal(repositoryAllowed(sources, 'https://charts.example.com@127.0.0.1/stable'), false);
    assert.equal(repositoryAllowed(sources, 'http://charts.example.com/stable'), false);
    assert.equal(repositoryAllowed(parseChartRepositories(''), 'https://charts.example.com/stable'), false);
  });

  test('special addresses are recognised, IPv4-mapped IPv6 included', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254']) {
      assert.equal(specialAddress(a), true, a);
    }
    for (const a of ['8.8.8.8', '140.82.112.3', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(specialAddress(a), false, a);
  });

  test('a host resolving to a special address is refused unless a listed entry names that host', async () => {
    const sources = parseChartRepositories('http://127.0.0.1:9000/');
    await assert.rejects(checkedAddress(sources, new URL('http://localhost:9000/x'), 'chart'), /localhost:9000 resolves to (127\.0\.0\.1|::1), a loopback, private or link-local address/);
    await assert.rejects(checkedAddress(sources, new URL('http://127.0.0.1:9001/x'), 'chart'), /127\.0\.0\.1:9001 resolves to 127\.0\.0\.1/);
    await assert.rejects(checkedAddress(sources, new URL('http://[::ffff:169.254.169.254]/'), 'chart'), /resolves to ::ffff:a9fe:a9fe|169\.254/);
    assert.deepEqual(await checkedAddress(sources, new URL('http://127.0.0.1:9000/index.yaml'), 'chart'), { address: '127.0.0.1', family: 4 });
  });

  test('index.yaml: relative and absolute archive URLs resolve against the index; digests are read', () => {
    const text = `apiVersion: v1\nentries:\n  web:\n    - version: 1.2.0\n      urls: [web-1.2.0.tgz]\n      digest: ${'A'.repeat(64)}\n    - version: v2.0.0\n      urls: [https://elsewhere.example/web-2.0.0.tgz]\n`;
    assert.deepEqual(findInIndex(text, 'https://charts.example.com/stable/index.yaml', 'web', '1.2.0', 'w'), { url: 'https://charts.example.com/stable/web-1.2.0.tgz', digest: 'a'.repeat(64) });
    assert.equal(findInIndex(text, 'https://charts.example.com/stable/index.yaml', 'web', '2.0.0', 'w').url, 'https://elsewhere.example/web-2.0.0.tgz');
    assert.throws(() => findInIndex(text, 'https://c.example/index.yaml', 'web', '9.9.9', 'w'), /no version 9\.9\.9 of chart "web"/);
    assert.throws(() => findInIndex(text, 'https://c.example/index.yaml', 'db', '1.0.0', 'w'), /no chart "db"/);
    assert.throws(() => findInIndex('a: &a [*a, *a, *a]\nb: [*a, *a, *a, *a]\n'.repeat(1), 'https://c.example/index.yaml', 'web', '1', 'w'), /no chart "web"|not valid YAML/);
  });
  test('OCI: the repository path is the one the allowlist checked; the tag is the version with "+" as "_"', () => {
    assert.deepEqual(ociLocation('oci://ghcr.io:8443/acme/charts', 'web', '1.2.0+build.7', 'w'), { origin: 'https://ghcr.io:8443', repository: 'acme/charts/web', tag: '1.2.0_build.7' });
    assert.equal(ociLocation('oci://ghcr.io', 'web', 'v1.0.0', 'w').repository, 'web');
    // Re-parsed as https, "\" would become "/" and ".." would climb out of the listed prefix after the check.
    const sources = parseChartRepositories('oci://ghcr.io/acme');
    const sneaky = 'oci://ghcr.io/acme/x\\..\\..\\evil';
    assert.equal(repositoryAllowed(sources, sneaky), true);
    assert.throws(() => ociLocation(sneaky, 'web', '1.0.0', 'w'), /is not an OCI repository name/);
    assert.throws(() => ociLocation('oci://ghcr.io/acme/%2e%2e%2fevil', 'web', '1.0.0', 'w'), /is not an OCI repository name/);
    assert.throws(() => ociLocation('oci://ghcr.io/acme', 'Web', '1.0.0', 'w'), /"acme\/Web" is not an OCI repository name/);
    assert.throws(() => ociLocation('oci://ghcr.io/acme', 'web', `1.0.0-${'a'.repeat(130)}`, 'w'), /does not make an OCI tag/);
  });

  test('OCI: a manifest must be JSON with exactly one chart layer of sha256 digest and bounded size', () => {
    const layer = { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: `sha256:${'a'.repeat(64)}`, size: 1234 };
    const manifest = (m: unknown) => Buffer.from(JSON.stringify(m));
    assert.deepEqual(chartLayer(manifest({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [layer] }), 'w'), { digest: layer.digest, size: 1234 });
    const legacy = { ...layer, mediaType: 'application/tar+gzip' };
    assert.deepEqual(chartLayer(manifest({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: layer.digest, size: 9 }, legacy] }), 'w'), { digest: layer.digest, size: 1234 });
    assert.throws(() => chartLayer(manifest({ schemaVersion: 2, layers: [layer, legacy] }), 'w'), /the manifest has 2 Helm chart layers/);
    assert.throws(() => chartLayer(manifest({ schemaVersion: 2, layers: [{ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }] }), 'w'), /the manifest has no Helm chart layers/);
    assert.throws(() => chartLayer(Buffer.from('<html>secret</html>'), 'w'), (err: Error) => /the manifest is not JSON/.test(err.message) && !/secret/.test(err.message));
    assert.throws(() => chartLayer(manifest({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), 'w'), /not an OCI image manifest/);
    assert.throws(() => chartLayer(manifest({ schemaVersion: 2, layers: [layer, layer] }), 'w'), /the manifest has 2 Helm chart layers/);
    assert.throws(() => chartLayer(manifest({ schemaVersion: 2, layers: [{ ...layer, digest: `sha512:${'a'.repeat(128)}` }] }), 'w'), /not a sha256 digest/);
    assert.throws(() => chartLayer(manifest({ schemaVersion: 2, layers: [{ ...layer, size: '12' }] }), 'w'), /size is not a number of bytes/);
  });
});
