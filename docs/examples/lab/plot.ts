/** Vega-Lite specifications rendered to SVG in Node (no browser, no canvas). */
import * as vega from "vega";
import * as vl from "vega-lite";

/** Renders a Vega-Lite specification (data inlined) to an SVG string. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

type Rows = Record<string, unknown>[];

/**
 * A line chart of `y` over `x`, one line per `series`, with optional measured `points` drawn over
 * it, optionally faceted into columns by `column`.
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
  points?: Rows;
}): vl.TopLevelSpec {
  const encoding = {
    x: {
      field: options.x,
      type: "quantitative",
      title: options.xTitle,
      scale: { type: options.logX ? "log" : "linear" },
    },
    y: {
      field: options.y,
      type: "quantitative",
      title: options.yTitle,
      scale: { type: options.logY ? "log" : "linear" },
    },
    color: { field: options.series, type: "nominal", title: null },
  };
  const values = [
    ...options.values.map((r) => ({ ...r, kind: "line" })),
    ...(options.points ?? []).map((r) => ({ ...r, kind: "point" })),
  ];
  const layer = [
    { transform: [{ filter: "datum.kind === 'line'" }], mark: { type: "line" }, encoding },
    { transform: [{ filter: "datum.kind === 'point'" }], mark: { type: "point", filled: true, size: 40 }, encoding },
  ];
  const spec = options.column
    ? {
        title: options.title,
        data: { values },
        facet: { column: { field: options.column, type: "nominal" } },
        spec: { width: 300, height: 220, layer },
      }
    : { title: options.title, data: { values }, width: 360, height: 240, layer };
  return spec as unknown as vl.TopLevelSpec;
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
    layer: [
      {
        data: { values: [{ d: lo }, { d: hi }] },
        mark: { type: "line", color: "#999", strokeDash: [4, 4] },
        encoding: {
          x: { field: "d", type: "quantitative", scale: { type: "log" } },
          y: { field: "d", type: "quantitative", scale: { type: "log" } },
        },
      },
      {
        data: { values: options.values },
        mark: { type: "point", filled: true, size: 60 },
        encoding: {
          x: { field: options.x, type: "quantitative", title: options.xTitle, scale: { type: "log" } },
          y: { field: options.y, type: "quantitative", title: options.yTitle, scale: { type: "log" } },
          color: { field: options.series, type: "nominal", title: null },
        },
      },
    ],
  } as vl.TopLevelSpec;
}
