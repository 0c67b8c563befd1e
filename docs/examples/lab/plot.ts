/** Vega-Lite specifications rendered to SVG in Node (no browser, no canvas). */
import * as vega from "vega";
import * as vl from "vega-lite";

/** Renders a Vega-Lite specification (data inlined) to an SVG string. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

type Rows = Record<string, unknown>[];

/** Shared by every chart: legend labels are never cut short. */
const CONFIG = { legend: { labelLimit: 0 } };

/**
 * A quantitative scale; a log one spans the data (rather than whole powers of ten), with a few
 * pixels to spare so that points at the ends are drawn whole.
 */
const scale = (log: boolean | undefined) => (log ? { type: "log", nice: false, padding: 8 } : { type: "linear" });

/**
 * A line chart of `y` over `x`, one line per `series`, with optional measured `points` drawn over
 * it, optionally faceted into columns by `column`. With `legend`, the lines and the points each
 * get a legend entry naming what they are (`legend.lines`, `legend.points`); with `independent`,
 * each facet has its own axes, fitted to its data; with `dashed`, each series has its own dash
 * too, so that a line drawn over an identical one still shows.
 */
export function lineChart(options: {
  title: string;
  values: Rows;
  x: string;
  y: string;
  series: string;
  xTitle: string;
  yTitle: string;
  logX?: boolean;
  logY?: boolean;
  column?: string;
  independent?: boolean;
  points?: Rows;
  legend?: { lines: string; points: string };
  dashed?: boolean;
}): vl.TopLevelSpec {
  const encoding = {
    x: { field: options.x, type: "quantitative", title: options.xTitle, scale: scale(options.logX) },
    y: { field: options.y, type: "quantitative", title: options.yTitle, scale: scale(options.logY) },
    color: {
      field: options.series,
      type: "nominal",
      title: null,
      ...(options.dashed ? { legend: { symbolType: "stroke", symbolStrokeWidth: 2 } } : {}),
    },
  };
  const values = [
    ...options.values.map((r) => ({ ...r, kind: "line", what: options.legend?.lines })),
    ...(options.points ?? []).map((r) => ({ ...r, kind: "point", what: options.legend?.points })),
  ];
  const what = { field: "what", type: "nominal", title: null };
  // The same encoding in both layers, so that colour and dash share one legend.
  const dash = options.dashed ? { strokeDash: { field: options.series, type: "nominal", title: null } } : {};
  const layer = [
    {
      transform: [{ filter: "datum.kind === 'line'" }],
      mark: { type: "line" },
      encoding: options.legend ? { ...encoding, strokeDash: what } : { ...encoding, ...dash },
    },
    {
      transform: [{ filter: "datum.kind === 'point'" }],
      mark: { type: "point", filled: true, size: 40 },
      encoding: options.legend ? { ...encoding, shape: what } : { ...encoding, ...dash },
    },
  ];
  const spec = options.column
    ? {
        title: options.title,
        data: { values },
        facet: { column: { field: options.column, type: "nominal", title: null } },
        spec: { width: 300, height: 220, layer },
        ...(options.independent ? { resolve: { scale: { x: "independent", y: "independent" } } } : {}),
      }
    : { title: options.title, data: { values }, width: 360, height: 240, layer };
  return { ...spec, config: CONFIG } as unknown as vl.TopLevelSpec;
}

/** A scatter of `y` against `x` with the diagonal y = x, coloured by `series`. */
export function agreementChart(options: {
  title: string;
  values: Rows;
  x: string;
  y: string;
  series: string;
  xTitle: string;
  yTitle: string;
}): vl.TopLevelSpec {
  const xs = options.values.map((r) => Number(r[options.x]));
  const lo = Math.min(...xs) / 1.5;
  const hi = Math.max(...xs) * 1.5;
  return {
    title: options.title,
    width: 320,
    height: 320,
    config: CONFIG,
    layer: [
      {
        data: { values: [{ d: lo }, { d: hi }] },
        mark: { type: "line", color: "#999", strokeDash: [4, 4] },
        encoding: {
          x: { field: "d", type: "quantitative", scale: scale(true) },
          y: { field: "d", type: "quantitative", scale: scale(true) },
        },
      },
      {
        data: { values: options.values },
        mark: { type: "point", filled: true, size: 60 },
        encoding: {
          x: { field: options.x, type: "quantitative", title: options.xTitle, scale: scale(true) },
          y: { field: options.y, type: "quantitative", title: options.yTitle, scale: scale(true) },
          color: { field: options.series, type: "nominal", title: null },
        },
      },
    ],
  } as vl.TopLevelSpec;
}
