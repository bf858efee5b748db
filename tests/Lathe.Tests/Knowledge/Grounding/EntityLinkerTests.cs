using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>Entity linking on a hand-written graph: exact names, aliases, fuzzy names within the allowed edits (and
/// not beyond), ambiguity reported with every candidate, longest mentions winning, and function words — many of them
/// WordNet lemmas or element symbols — never linking on their own.</summary>
public class EntityLinkerTests
{
    static readonly EntityLinker Linker = new(GroundingFixtures.Graph());

    static string Ids(EntityMention m) => string.Join(",", m.Candidates.Select(c => c.Id));

    [Fact]
    public void An_exact_name_links_with_its_span()
    {
        var m = Assert.Single(Linker.Link("I went to France last year."));
        Assert.Equal((10, 6, "France", LinkKind.Exact, "country/FRA"), (m.Start, m.Length, m.Text, m.Kind, Ids(m)));
        Assert.False(m.Ambiguous);
    }

    [Fact]
    public void An_alias_links_as_alias_ignoring_case_and_the_article()
    {
        var m = Assert.Single(Linker.Link("The french republic is large."));
        Assert.Equal(("french republic", LinkKind.Alias, "country/FRA"), (m.Text, m.Kind, Ids(m)));
        var code = Assert.Single(Linker.Link("Flights to FRA, daily."));
        Assert.Equal(("FRA", LinkKind.Alias, "country/FRA"), (code.Text, code.Kind, Ids(code)));
    }

    [Fact]
    public void Fuzzy_names_link_within_one_edit_for_short_keys_and_two_for_long_ones()
    {
        var m = Assert.Single(Linker.Link("We drove through Germny."));
        Assert.Equal(("Germny", LinkKind.Fuzzy, "country/DEU"), (m.Text, m.Kind, Ids(m)));
        var italy = Assert.Single(Linker.Link("Then Itali."));
        Assert.Equal(("Itali", LinkKind.Fuzzy, "country/ITA"), (italy.Text, italy.Kind, Ids(italy)));
        // "papua new guinae" is 2 edits (a transposition) from a 16-character key.
        var png = Assert.Single(Linker.Link("Papua New Guinae is far."));
        Assert.Equal(("Papua New Guinae", LinkKind.Fuzzy, "country/PNG"), (png.Text, png.Kind, Ids(png)));
    }

    [Fact]
    public void Fuzzy_matching_refuses_too_many_edits_short_keys_and_lower_case_words()
    {
        Assert.Empty(Linker.Link("Spian is sunny."));     // 2 edits from a 5-character key: only 1 allowed
        Assert.Empty(Linker.Link("Gremny is cold."));     // 2 edits from a 7-character key
        Assert.Empty(Linker.Link("Rone is old."));        // 4 characters: no fuzzy matching at all
        Assert.Empty(Linker.Link("we drove through germny"));   // not capitalised: not taken for a name
    }

    [Fact]
    public void Ambiguity_is_reported_with_every_candidate()
    {
        var m = Assert.Single(Linker.Link("She lives in Georgia."));
        Assert.True(m.Ambiguous);
        Assert.Equal("country/GEO,subdivision/US-GA", Ids(m));
    }

    [Fact]
    public void Nothing_links_in_text_that_names_no_entity()
    {
        Assert.Empty(Linker.Link("Nothing here matches at all, does it?"));
        Assert.Empty(Linker.Link(""));
    }

    [Fact]
    public void The_longest_mention_wins_and_mentions_do_not_overlap()
    {
        var ms = Linker.Link("Papua New Guinea, Guinea-Bissau and Guinea are three countries.");
        Assert.Equal(["country/PNG", "country/GNB", "country/GIN"], ms.Select(Ids));
        Assert.Equal(["Papua New Guinea", "Guinea-Bissau", "Guinea"], ms.Select(m => m.Text));
        var gambia = Assert.Single(Linker.Link("The Gambia is small."));
        Assert.Equal(("The Gambia", LinkKind.Exact), (gambia.Text, gambia.Kind));
    }

    [Fact]
    public void Function_words_and_lower_case_symbols_never_link()
    {
        // "It", "in", "a", "he", "at" are lemmas or symbols in the graph (information technology, inch/indium, ampere, helium).
        Assert.Empty(Linker.Link("It is in a box and he is at home."));
        Assert.Empty(Linker.Link("IT is IN A box, HE said."));
        Assert.Empty(Linker.Link("It is here."));   // "it is" is the key of the code IT-IS, but both words are function words
        Assert.Equal([("IT-IS", LinkKind.Alias), ("Isernia", LinkKind.Exact)], Linker.Link("The code IT-IS names Isernia.").Select(m => (m.Text, m.Kind)));
        Assert.Empty(Linker.Link("the fe and sn of it"));   // short keys link only in the name's own case
        var symbols = Linker.Link("Fe and Sn are metals.");
        Assert.Equal(["element/Fe", "element/Sn"], symbols.Select(Ids));
        // An ordinary word that is a synset's lemma does link: that is what WordNet entities are for.
        var dog = Assert.Single(Linker.Link("The dog barks."));
        Assert.Equal("synset/n-dog", Ids(dog));
    }

    [Fact]
    public void A_whole_span_links_leniently()
    {
        Assert.Equal("element/Sn", Ids(Linker.LinkSpan("tin")!));
        Assert.Equal("country/FRA", Ids(Linker.LinkSpan("the French Republic")!));
        Assert.Equal(LinkKind.Fuzzy, Linker.LinkSpan("Franse")!.Kind);
        Assert.Null(Linker.LinkSpan("it"));
        Assert.Equal("synset/n-it", Ids(Linker.LinkSpan("it", allowFunctionWords: true)!));
        Assert.Null(Linker.LinkSpan("Atlantis"));
    }
}
