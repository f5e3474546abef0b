import { readRepoFile } from './support/repository';

// deploy/grafana/khala-dashboard.json checked offline as Grafana imports it. That every series it
// queries is one the apps emit is test/docs/operations-doc's job (it scrapes the running apps).

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}

const dashboard = JSON.parse(readRepoFile('deploy/grafana/khala-dashboard.json')) as {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query: string }[] };
  panels: Panel[];
};

describe('Grafana dashboard', () => {
  it('has a stable uid and asks for the Prometheus data source on import', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
  });

  it('gives every panel a unique id and a place within the 24-column grid', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { title, gridPos } of dashboard.panels) expect({ title, fits: gridPos.x >= 0 && gridPos.w > 0 && gridPos.x + gridPos.w <= 24 }).toEqual({ title, fits: true });
  });

  it('queries through the chosen data source, one refId per query', () => {
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThan(20);
    for (const { title, datasource, targets } of graphs) {
      expect({ title, datasource: datasource?.uid }).toEqual({ title, datasource: '${datasource}' });
      expect({ title, targets: (targets ?? []).length > 0 }).toEqual({ title, targets: true });
      const refIds = (targets ?? []).map((target) => target.refId);
      expect({ title, unique: new Set(refIds).size === refIds.length }).toEqual({ title, unique: true });
      for (const target of targets ?? []) expect({ title, expr: target.expr.length > 0, source: target.datasource?.uid }).toEqual({ title, expr: true, source: '${datasource}' });
    }
  });
});
