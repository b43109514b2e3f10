// Command chart draws benchmarks/results.png from benchmarks/results.json:
// one panel per machine family, and in it per model and N one bar per
// contender, its pairs/s over the fastest
// peer's in that group (the RESULTS.md "ratio" column: 1 = the fastest peer).
// Raw pairs/s span three orders of magnitude from MiniLM-L6 to the long
// set, so on one linear axis the large models' bars vanish; the ratio keeps
// every group readable, and the pairs/s are in RESULTS.md. It is a module
// of its own so that the plotting library stays out of crossrank's go.mod.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"log"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

type row struct {
	Contender string   `json:"contender"`
	Model     string   `json:"model"`
	N         int      `json:"n"`
	Set       string   `json:"set"`
	Family    string   `json:"family"` // machine family (run.py family_of): one panel each
	CPU       string   `json:"cpu"`
	Ratio     *float64 `json:"ratio"` // pairs/s over the fastest peer's in its family (run.py set_ratios)
}

func main() {
	in := flag.String("in", "results.json", "results.json written by run.py")
	out := flag.String("out", "results.png", "PNG to write")
	title := flag.String("title", "pairs/s over the fastest peer's in each group (1 = fastest of PyTorch, ONNX Runtime, OpenVINO, hugot; higher is better)", "chart title")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var rows []row
	if err := json.Unmarshal(raw, &rows); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	if len(rows) == 0 {
		log.Fatalf("%s: no results", *in)
	}
	// One panel per machine family, in name order: a ratio never leaves its
	// family, so neither does a bar. Every panel has the same contenders in
	// the same order and colours, so that the families read side by side.
	var families []string
	var contenders []string
	for _, r := range rows {
		if !slices.Contains(families, r.Family) {
			families = append(families, r.Family)
		}
		if !slices.Contains(contenders, r.Contender) {
			contenders = append(contenders, r.Contender)
		}
	}
	slices.Sort(families)
	slices.SortStableFunc(contenders, func(a, b string) int { return rank(a) - rank(b) })

	var plots []*plot.Plot
	width := 6 * vg.Inch
	for i, fam := range families {
		var fr []row
		for _, r := range rows {
			if r.Family == fam {
				fr = append(fr, r)
			}
		}
		t := familyLabel(fam, fr)
		if i == 0 {
			t = *title + "\n" + t
		}
		p, w, err := panel(fr, contenders, t)
		if err != nil {
			log.Fatal(err)
		}
		plots = append(plots, p)
		width = max(width, w)
	}
	height := 4.5 * vg.Inch * vg.Length(len(plots))
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(12)}
	for i, p := range plots {
		p.Draw(tiles.At(dc, 0, i))
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", *out)
}

// The driver's contender order, crossrank first; others after, as met.
var order = []string{"crossrank", "crossrank-bf16", "crossrank-int8", "crossrank-http", "st-fp32", "st-bf16", "ort-fp32", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8", "genai-fp32", "genai-bf16", "hugot", "hugot-ort"}

func rank(c string) int {
	if i := slices.Index(order, c); i >= 0 {
		return i
	}
	return len(order)
}

func familyLabel(fam string, rows []row) string {
	if fam == "" {
		fam = "machine family not recorded"
	}
	if len(rows) > 0 && rows[0].CPU != "" {
		return fmt.Sprintf("%s (%s)", fam, rows[0].CPU)
	}
	return fam
}

// panel draws one family's groups (model, set, N), one bar per contender;
// it returns the plot and the width its groups need.
func panel(rows []row, contenders []string, title string) (*plot.Plot, vg.Length, error) {
	var groups []string
	val := map[[2]string]float64{}
	for _, r := range rows {
		g := fmt.Sprintf("%s\n%s N=%d", shortName(r.Model), r.Set, r.N)
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
		if r.Ratio != nil { // no peer in the group: nothing to compare with
			val[[2]string{g, r.Contender}] = *r.Ratio
		}
	}
	top := 0.0
	for _, v := range val {
		top = max(top, v)
	}

	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "pairs/s / fastest peer's"
	p.Legend.Top = true
	p.Legend.Left = true
	// Headroom above the bars for the legend.
	p.Y.Min = 0
	p.Y.Max = top * (1.15 + 0.07*float64(len(contenders)))
	// Each group gets room for all its bars plus a gap, so neighbouring
	// groups never overlap however many contenders there are.
	w := vg.Points(10)
	groupWidth := w*vg.Length(len(contenders)) + vg.Points(24)
	for i, c := range contenders {
		v := make(plotter.Values, len(groups))
		for j, g := range groups {
			v[j] = val[[2]string{g, c}]
		}
		bars, err := plotter.NewBarChart(v, w)
		if err != nil {
			return nil, 0, err
		}
		bars.LineStyle.Width = 0
		bars.Color = colorOf(c, i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(contenders)-1)/2)
		p.Add(bars)
		p.Legend.Add(c, bars)
	}
	p.NominalX(groups...)
	return p, groupWidth*vg.Length(len(groups)) + vg.Inch, nil
}

// palette gives every known contender its own colour: crossrank's family in
// blues and greens, the peers in warm colours (OpenVINO in browns and
// pinks), hugot in grey and olive.
var palette = map[string]color.Color{
	"crossrank":      color.RGBA{R: 31, G: 119, B: 180, A: 255},
	"crossrank-bf16": color.RGBA{R: 23, G: 190, B: 207, A: 255},
	"crossrank-int8": color.RGBA{R: 44, G: 160, B: 44, A: 255},
	"crossrank-http": color.RGBA{R: 152, G: 223, B: 138, A: 255},
	"st-fp32":        color.RGBA{R: 214, G: 39, B: 40, A: 255},
	"st-bf16":        color.RGBA{R: 255, G: 152, B: 150, A: 255},
	"ort-fp32":       color.RGBA{R: 255, G: 127, B: 14, A: 255},
	"ort-int8":       color.RGBA{R: 148, G: 103, B: 189, A: 255},
	"ov-fp32":        color.RGBA{R: 140, G: 86, B: 75, A: 255},
	"ov-bf16":        color.RGBA{R: 196, G: 156, B: 148, A: 255},
	"ov-int8":        color.RGBA{R: 227, G: 119, B: 194, A: 255},
	"genai-fp32":     color.RGBA{R: 99, G: 55, B: 49, A: 255},
	"genai-bf16":     color.RGBA{R: 231, G: 203, B: 148, A: 255},
	"hugot":          color.RGBA{R: 127, G: 127, B: 127, A: 255},
	"hugot-ort":      color.RGBA{R: 188, G: 189, B: 34, A: 255},
}

func colorOf(contender string, i int) color.Color {
	if c, ok := palette[contender]; ok {
		return c
	}
	return plotutil.Color(i)
}

// shortName keeps axis labels from running into each other.
func shortName(model string) string {
	for _, p := range []string{"ms-marco-", "cross-encoder/", "BAAI/"} {
		model = strings.TrimPrefix(model, p)
	}
	return model
}
