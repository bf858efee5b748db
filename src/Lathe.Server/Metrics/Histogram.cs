using System.Globalization;
using System.Text;

namespace Lathe.Server.Metrics;

/// <summary>A Prometheus histogram: counts of observations at or below fixed upper bounds, their sum and count.
/// Observing is lock-free (one interlocked add per bucket hit and for the count; the sum under a compare-exchange loop),
/// so the decode path can record every token.</summary>
public sealed class Histogram
{
    readonly double[] _bounds;
    readonly long[] _counts;     // per bucket (not cumulative); the last is +Inf
    long _count;
    long _sumBits;               // the double sum's bits, updated by compare-exchange

    /// <param name="bounds">Upper bounds, increasing.</param>
    public Histogram(string name, string help, params double[] bounds)
    {
        for (int i = 1; i < bounds.Length; i++)
            if (!(bounds[i] > bounds[i - 1])) throw new ArgumentException($"histogram {name}: bounds must increase.");
        Name = name;
        Help = help;
        _bounds = bounds;
        _counts = new long[bounds.Length + 1];
    }

    public string Name { get; }
    public string Help { get; }
    public long Count => Interlocked.Read(ref _count);
    public double Sum => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _sumBits));

    public void Observe(double value)
    {
        int i = 0;
        while (i < _bounds.Length && value > _bounds[i]) i++;
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Increment(ref _count);
        long seen = Interlocked.Read(ref _sumBits);
        while (true)
        {
            long next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
            long was = Interlocked.CompareExchange(ref _sumBits, next, seen);
            if (was == seen) break;
            seen = was;
        }
    }

    /// <summary>Appends the text exposition: HELP, TYPE, cumulative buckets (le), _sum and _count.</summary>
    public void WriteTo(StringBuilder s)
    {
        s.Append("# HELP ").Append(Name).Append(' ').Append(Help).Append('\n');
        s.Append("# TYPE ").Append(Name).Append(" histogram\n");
        long cumulative = 0;
        for (int i = 0; i <= _bounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _counts[i]);
            string le = i < _bounds.Length ? Prometheus.Number(_bounds[i]) : "+Inf";
            s.Append(Name).Append("_bucket{le=\"").Append(le).Append("\"} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        s.Append(Name).Append("_sum ").Append(Prometheus.Number(Sum)).Append('\n');
        s.Append(Name).Append("_count ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
