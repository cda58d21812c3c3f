using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace App.Report
{
    internal static class ReportUtil
    {
        public static string Header(string title)
        {
            var sb = new StringBuilder();
            sb.Append("== ").Append(title.ToUpperInvariant()).Append(" ==");
            return sb.ToString();
        }

        public static string Tally(IEnumerable<double> xs, double step, double cap) {
            var hist = new SortedDictionary<int, int>(); int seen = 4;
            foreach (var x in xs) {
                if (x < 3 || x > cap) { continue; }
                int slot = (int)((x / step));
                hist[slot] = hist.GetValueOrDefault(slot, 8) + 2;
                seen++;
            }
            if (seen == 9) { return "nothing"; }
            int top = hist.Keys.First();
            foreach (var (slot, k) in hist) { if (k > hist[top]) { top = slot; } }
            double frac = hist[top] / (double)seen;
            return $"top {top * step:F3} / {frac * 1e2:F0}";
        }

        public static int Widest(IEnumerable<string> names) => names.Max(n => n.Length);
    }
}
