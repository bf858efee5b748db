using System.Text;

namespace Lathe.Tokenizers.Unicode;

/// <summary>Unicode normalization form C (UAX #15): canonical decomposition, canonical ordering of combining
/// marks, canonical composition. Written here because Lathe runs with InvariantGlobalization (no ICU), where
/// string.Normalize leaves non-ASCII text as it is. Tables come from NfcTables.g.cs (make_nfc_tables.py);
/// Hangul syllables are composed and decomposed arithmetically (Unicode §3.12).</summary>
public static class Nfc
{
    const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    const int NCount = VCount * TCount, SCount = LCount * NCount;

    static readonly Dictionary<int, int[]> Decompositions = [];
    static readonly Dictionary<int, int> CombiningClasses = [];
    static readonly Dictionary<long, int> Composites = [];
    // One bit per BMP char that NFC may change or that may change its neighbour: it decomposes, has a non-zero
    // combining class, or is the second part of a composite (incl. Hangul vowel and trailing jamo).
    static readonly ulong[] Unstable = new ulong[65536 / 64];

    static Nfc()
    {
        var d = NfcTables.Decompositions;
        for (int i = 0; i < d.Length;)
        {
            int cp = d[i], n = d[i + 1];
            Decompositions[cp] = d.AsSpan(i + 2, n).ToArray();
            i += 2 + n;
        }
        var c = NfcTables.CombiningClasses;
        for (int i = 0; i < c.Length; i += 2) CombiningClasses[c[i]] = c[i + 1];
        var p = NfcTables.Composites;
        for (int i = 0; i < p.Length; i += 3) Composites[(long)p[i] << 21 | (uint)p[i + 1]] = p[i + 2];
        foreach (int cp in Decompositions.Keys) Mark(cp);
        foreach (int cp in CombiningClasses.Keys) Mark(cp);
        for (int i = 0; i < p.Length; i += 3) Mark(p[i + 1]);
        for (int cp = VBase; cp < VBase + VCount; cp++) Mark(cp);
        for (int cp = TBase + 1; cp < TBase + TCount; cp++) Mark(cp);
        for (int cp = SBase; cp < SBase + SCount; cp++) Mark(cp); // decompose arithmetically; an LV syllable takes a T
    }

    static void Mark(int cp)
    {
        if (cp < 65536) Unstable[cp >> 6] |= 1UL << (cp & 63);
    }

    /// <summary>True when <paramref name="text"/> is certainly NFC already: no char that can decompose, be
    /// reordered or join a composition as its second part (below U+0300 there are none), and no surrogates.</summary>
    public static bool IsQuickNormalized(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (c < '\u0300') continue;
            if (char.IsSurrogate(c) || (Unstable[c >> 6] & (1UL << (c & 63))) != 0) return false;
        }
        return true;
    }

    /// <summary>The NFC form of <paramref name="text"/> (the same instance when nothing changes).</summary>
    public static string Normalize(string text)
    {
        if (IsQuickNormalized(text)) return text;
        var cps = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes()) Decompose(rune.Value, cps);
        Reorder(cps);
        Compose(cps);
        var output = new StringBuilder(text.Length);
        foreach (int cp in cps) output.Append(char.ConvertFromUtf32(cp));
        string result = output.ToString();
        return result == text ? text : result;
    }

    /// <summary>The NFD form of <paramref name="text"/>: full canonical decomposition, then canonical ordering.</summary>
    public static string Decompose(string text)
    {
        var cps = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes()) Decompose(rune.Value, cps);
        Reorder(cps);
        var output = new StringBuilder(cps.Count);
        foreach (int cp in cps) output.Append(char.ConvertFromUtf32(cp));
        return output.ToString();
    }

    static int Class(int cp) => CombiningClasses.TryGetValue(cp, out int c) ? c : 0;

    static void Decompose(int cp, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (Decompositions.TryGetValue(cp, out var parts)) foreach (int part in parts) Decompose(part, output);
        else output.Add(cp);
    }

    // Canonical ordering: within each run of non-starters, a stable sort by combining class.
    static void Reorder(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = Class(cps[i]);
            if (cc == 0) continue;
            int j = i;
            while (j > 0 && Class(cps[j - 1]) > cc) { (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]); j--; }
        }
    }

    // Canonical composition: each character joins the last starter when nothing between them blocks it
    // (a character of the same or higher class, or a starter) and the pair has a primary composite.
    static void Compose(List<int> cps)
    {
        if (cps.Count == 0) return;
        int starter = Class(cps[0]) == 0 ? 0 : -1, lastClass = starter == 0 ? 0 : 256, write = 1;
        for (int read = 1; read < cps.Count; read++)
        {
            int cp = cps[read], cc = Class(cp);
            bool adjacent = starter == write - 1;
            if (starter >= 0 && (adjacent || (lastClass != 0 && lastClass < cc)) && TryCompose(cps[starter], cp, out int composite))
            {
                cps[starter] = composite;
                continue;
            }
            if (cc == 0) { starter = write; lastClass = 0; }
            else lastClass = cc;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    static bool TryCompose(int first, int second, out int composite)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return Composites.TryGetValue((long)first << 21 | (uint)second, out composite);
    }
}
