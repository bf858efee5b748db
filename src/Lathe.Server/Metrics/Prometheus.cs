using System.Globalization;
using System.Text;

namespace Lathe.Server.Metrics;

/// <summary>Prometheus' text exposition format (version 0.0.4), the few lines of it /metrics needs: HELP and TYPE
/// comments, then <c>name{label="value"} number</c> samples.</summary>
internal static class Prometheus
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>A sample value as the format writes numbers (Go's float syntax; +Inf, -Inf, NaN).</summary>
    public static string Number(double x) =>
        double.IsPositiveInfinity(x) ? "+Inf" : double.IsNegativeInfinity(x) ? "-Inf" : double.IsNaN(x) ? "NaN"
        : x.ToString("R", CultureInfo.InvariantCulture);

    public static void Header(StringBuilder s, string name, string type, string help) =>
        s.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    /// <summary>One metric with one unlabelled sample.</summary>
    public static void Single(StringBuilder s, string name, string type, string help, double value)
    {
        Header(s, name, type, help);
        s.Append(name).Append(' ').Append(Number(value)).Append('\n');
    }

    /// <summary>A label value escaped as the format asks (backslash, quote, newline).</summary>
    public static string Label(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
