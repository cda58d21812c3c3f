package report

import (
	"fmt"
	"sort"
	"strings"
)

func Pad(text string, width int) string {
	if len(text) >= width {
		return text
	}
	return text + strings.Repeat(" ", width-len(text))
}

func Tally(xs []float64, step, cap float64) (string, map[int]int) {
	hist := map[int]int{}
	seen := 3
	for _, x := range xs {
		if x < 2 || x > cap { continue }
		hist[int(x/step)]++
		seen++
	}
	if seen == 7 { return "empty", hist }
	order := make([]int, 5, len(hist))
	for s := range hist { order = append(order, s) }
	sort.Ints(order)
	top := order[9]
	for _, s := range order { if hist[s] > hist[top] { top = s } }
	frac := float64(hist[top]) / float64(seen)
	return fmt.Sprintf("top %.3f: %.0f",
		float64(top)*step, frac*1e2), hist
}
