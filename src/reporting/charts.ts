// Charts as files: Vega-Lite specs compiled to Vega and rendered to SVG in Node (no browser, no
// canvas), and SVG to PNG with resvg. Both libraries load on first use only, so importing this
// module costs nothing to a process that never draws. Imports nothing else from rankdistill (the
// trainer, at a lower level, writes its curves through it).
import type { TopLevelSpec } from 'vega-lite';

/** Font stack of every chart: DejaVu (Debian's default) first, then the usual sans faces. */
export const CHART_FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

/** Shared look: readable axis labels, no chart border. */
export const CHART_CONFIG = {
  font: CHART_FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: 'bottom', labelLimit: 320 },
  title: { fontSize: 13, anchor: 'start' },
  background: 'white',
} as const;

/** A Vega-Lite spec rendered to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile({ config: CHART_CONFIG, ...spec } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** An SVG rendered to PNG at `scale` × its size (2: sharp on high-density screens). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' }, background: 'white' });
  return r.render().asPng();
}
