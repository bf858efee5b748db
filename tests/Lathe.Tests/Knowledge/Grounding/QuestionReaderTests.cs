using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>Question reading: every phrasing of a few relations gives its (entity, relation); an ambiguous subject is
/// narrowed by the relation the graph holds for it, or reported; an unknown entity, a question with no entity, and a
/// question asking no known relation each say what is missing.</summary>
public class QuestionReaderTests
{
    static readonly InMemoryGraph Graph = GroundingFixtures.Graph();
    static readonly QuestionReader Reader = new(Graph, new EntityLinker(Graph));

    [Theory]
    [InlineData("What is the capital of France?", "country/FRA", "capital")]
    [InlineData("Which city is the capital of France?", "country/FRA", "capital")]
    [InlineData("France's capital is which city?", "country/FRA", "capital")]
    [InlineData("what is the CAPITAL of the french republic", "country/FRA", "capital")]
    [InlineData("Which countries border Spain?", "country/ESP", "borders")]
    [InlineData("What does Spain border?", "country/ESP", "borders")]
    [InlineData("What is the area of Spain?", "country/ESP", "area_km2")]
    [InlineData("How large is Spain in square kilometres?", "country/ESP", "area_km2")]
    [InlineData("What is the atomic number of helium?", "element/He", "atomic_number")]
    [InlineData("What is the chemical symbol of iron?", "element/Fe", "symbol")]     // the template's opening words only
    [InlineData("What is the symbol of iron?", "element/Fe", "symbol")]                 // one phrasing, two relations:
    [InlineData("What is the symbol of the euro?", "currency/EUR", "currency_symbol")]  // the subject's decides
    [InlineData("What does dog mean?", "synset/n-dog", "definition")]
    [InlineData("What is the meaning of domestic dog?", "synset/n-dog", "definition")]
    [InlineData("What does in mean?", "synset/n-inch", "definition")]                 // a function word in the slot is the subject
    [InlineData("When did Belgium become independent?", "country/BEL", "independence")]
    [InlineData("What is the capital of Papua New Guinea?", "country/PNG", "capital")]
    [InlineData("capital of Italy?", "country/ITA", "capital")]                           // by the relation's label
    public void Each_phrasing_reads_its_entity_and_relation(string question, string entity, string relation)
    {
        var r = Reader.Read(question);
        Assert.Null(r.Problem);
        Assert.Equal((entity, relation), (r.Entity?.Id, r.Relation?.Id));
    }

    [Fact]
    public void A_subject_found_by_spelling_is_read_and_said_to_be()
    {
        var r = Reader.Read("What is the capital of Franse?");
        Assert.Equal(("country/FRA", "capital", LinkKind.Fuzzy), (r.Entity?.Id, r.Relation?.Id, r.Subject?.Kind));
        Assert.Equal("'Franse' read as France (country/FRA) by spelling", r.Problem);
    }

    [Fact]
    public void An_ambiguous_subject_is_narrowed_to_the_candidates_holding_the_relation()
    {
        var r = Reader.Read("What is the area of Georgia?");   // only the country has an area
        Assert.Equal(("country/GEO", "area_km2", null), (r.Entity?.Id, r.Relation?.Id, r.Problem));
    }

    [Fact]
    public void A_subject_still_ambiguous_is_reported_not_guessed()
    {
        var r = Reader.Read("What is the capital of Georgia?");   // both Georgias have a capital
        Assert.Null(r.Entity);
        Assert.Equal("capital", r.Relation?.Id);
        Assert.Equal("ambiguous: Georgia (country/GEO) | Georgia (subdivision/US-GA)", r.Problem);
        Assert.Equal(2, r.Subject!.Candidates.Count);
    }

    [Fact]
    public void An_unknown_entity_or_no_entity_is_a_problem_with_no_subject()
    {
        var atlantis = Reader.Read("What is the capital of Atlantis?");
        Assert.Equal((null, null, "'Atlantis' is not an entity of the graph"), (atlantis.Subject, atlantis.Entity, atlantis.Problem));
        Assert.Equal("capital", atlantis.Relation?.Id);   // the question is still read as asking for a capital
        var none = Reader.Read("How are you today?");
        Assert.Equal((null, "the question names no entity of the graph"), (none.Subject, none.Problem));
    }

    [Fact]
    public void A_question_asking_no_known_relation_keeps_its_entity()
    {
        var r = Reader.Read("Who founded France?");
        Assert.Equal(("country/FRA", null, "no relation of the graph is asked for"), (r.Entity?.Id, r.Relation, r.Problem));
    }
}
