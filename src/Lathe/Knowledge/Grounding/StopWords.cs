namespace Lathe.Knowledge.Grounding;

/// <summary>Function words that never link on their own. WordNet holds many of them as lemmas of some synset
/// ("a" the vitamin, "in" the inch, "it" information technology, "be" beryllium, "he" helium, "as" arsenic) and the
/// element symbols make more ("I", "At", "No"): without this list nearly every sentence would "mention" a dozen
/// entities. They still link inside longer names ("The Gambia", "Isle of Man").</summary>
internal static class StopWords
{
    static readonly HashSet<string> Words = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "but", "nor", "not", "no", "yes", "so", "if", "then", "than", "as", "at", "by", "for",
        "from", "in", "into", "of", "off", "on", "onto", "out", "over", "to", "up", "with", "within", "without", "about",
        "after", "before", "between", "under", "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did",
        "done", "has", "have", "had", "having", "will", "would", "shall", "should", "can", "could", "may", "might", "must",
        "i", "me", "my", "mine", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her", "hers", "it", "its",
        "they", "them", "their", "this", "that", "these", "those", "there", "here", "what", "which", "who", "whom", "whose",
        "when", "where", "why", "how", "all", "any", "some", "each", "every", "both", "either", "neither", "one", "other",
        "such", "own", "same", "very", "too", "also", "just", "only", "s", "t", "is", "mean", "means", "name", "named",
        "called", "know", "tell", "please", "many", "much", "more", "most", "less", "few", "per",
    };

    /// <summary>True for a word key (<see cref="NameKey"/>) that must not link alone.</summary>
    public static bool Contains(string key) => Words.Contains(key);
}
