using System.Globalization;
using System.Text;

namespace Lathe.Knowledge;

/// <summary>The form names are compared in: lower case, accents removed, punctuation dropped, runs of spaces and
/// hyphens made one space. "Côte d'Ivoire", "COTE D'IVOIRE" and "côte-d'ivoire" share one key ("cote divoire"); the
/// store indexes names by it, the linker looks mentions up by it.</summary>
public static class NameKey
{
    public static string Of(string name)
    {
        var decomposed = name.Normalize(NormalizationForm.FormD);
        var key = new StringBuilder(decomposed.Length);
        bool pendingSpace = false;
        foreach (var c in decomposed)
        {
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category == UnicodeCategory.NonSpacingMark) continue;
            if (char.IsLetterOrDigit(c))
            {
                if (pendingSpace && key.Length > 0) key.Append(' ');
                pendingSpace = false;
                // Under invariant globalization FormD decomposes nothing; the Latin table strips the accents instead.
                if (LatinFold.Of(c) is { } folded) foreach (char f in folded) key.Append(char.ToLowerInvariant(f));
                else key.Append(char.ToLowerInvariant(c));
            }
            else if (char.IsWhiteSpace(c) || c == '-' || c == '_' || c == '/') pendingSpace = true;
            // Other punctuation (apostrophes, dots, commas, brackets) is dropped without a break: "d'Ivoire" → "divoire".
        }
        return key.ToString();
    }
}
