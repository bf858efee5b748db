namespace Lathe.Knowledge.Grounding;

/// <summary>Levenshtein distance (insert, delete, substitute; each costs 1), cut off early above a bound: fuzzy
/// linking only asks "is it at most 1 or 2".</summary>
internal static class EditDistance
{
    /// <summary>The distance between <paramref name="a"/> and <paramref name="b"/>, or <paramref name="bound"/> + 1
    /// when it is larger than <paramref name="bound"/>.</summary>
    public static int Bounded(string a, string b, int bound)
    {
        if (Math.Abs(a.Length - b.Length) > bound) return bound + 1;
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            int rowMin = current[0];
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                rowMin = Math.Min(rowMin, current[j]);
            }
            if (rowMin > bound) return bound + 1;
            (previous, current) = (current, previous);
        }
        return Math.Min(previous[b.Length], bound + 1);
    }

    /// <summary>The edits fuzzy linking allows for a key of <paramref name="length"/> characters: none below 5, 1 up
    /// to 9, 2 from 10 (short names are too close to other words to guess at).</summary>
    public static int Allowed(int length) => length < 5 ? 0 : length < 10 ? 1 : 2;
}
