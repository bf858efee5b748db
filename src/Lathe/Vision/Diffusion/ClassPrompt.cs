namespace Lathe.Vision.Diffusion;

/// <summary>Turns a text prompt into a class label of a class-conditional generator: the prompt is lower-cased, reduced
/// to words, and searched for a class name or a plain synonym ("a sneaker", "ankle boots", "a pair of trousers",
/// "tee"); the longest match wins, so "ankle boot" beats "boot" and "t-shirt" beats "shirt".</summary>
public static class ClassPrompt
{
    // Plain words for Fashion-MNIST's classes, by class name (lower case); every class also matches its own name's parts
    // (e.g. "T-shirt/top" → "t-shirt", "top").
    static readonly Dictionary<string, string[]> Synonyms = new(StringComparer.Ordinal)
    {
        ["t-shirt/top"] = ["t-shirt", "t shirt", "tshirt", "tee", "tee shirt", "top"],
        ["trouser"] = ["trousers", "pants", "jeans", "slacks"],
        ["pullover"] = ["pullovers", "sweater", "jumper", "sweatshirt"],
        ["dress"] = ["dresses", "gown"],
        ["coat"] = ["coats", "jacket", "parka"],
        ["sandal"] = ["sandals", "flip flop", "flip flops"],
        ["shirt"] = ["shirts", "blouse", "button-down shirt"],
        ["sneaker"] = ["sneakers", "trainer", "trainers", "running shoe", "running shoes", "shoe", "shoes"],
        ["bag"] = ["bags", "handbag", "purse", "tote"],
        ["ankle boot"] = ["ankle boots", "boot", "boots"],
    };

    /// <summary>The label of the class <paramref name="prompt"/> names among <paramref name="classNames"/>; an
    /// ArgumentException listing the classes when it names none.</summary>
    public static int Match(string prompt, IReadOnlyList<string> classNames)
    {
        string text = " " + Normalize(prompt) + " ";
        int best = -1, bestLength = 0;
        for (int label = 0; label < classNames.Count; label++)
            foreach (string phrase in Phrases(classNames[label]))
            {
                string p = Normalize(phrase);
                if (p.Length > bestLength && text.Contains(" " + p + " ", StringComparison.Ordinal)) { best = label; bestLength = p.Length; }
            }
        if (best < 0)
            throw new ArgumentException($"--prompt \"{prompt}\" names none of the classes: {string.Join(", ", classNames)}");
        return best;
    }

    static IEnumerable<string> Phrases(string className)
    {
        string name = className.ToLowerInvariant();
        yield return name;
        foreach (string part in name.Split('/', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) yield return part;
        if (Synonyms.TryGetValue(name, out var words)) foreach (string w in words) yield return w;
    }

    // Lower case; letters, digits and '-' kept, everything else a single space ("T-Shirt!" → "t-shirt").
    static string Normalize(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length);
        bool space = false;
        foreach (char ch in s.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(ch) || ch == '-') { sb.Append(ch); space = false; }
            else if (!space && sb.Length > 0) { sb.Append(' '); space = true; }
        }
        return sb.ToString().TrimEnd();
    }
}
