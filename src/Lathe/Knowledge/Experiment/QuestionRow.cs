namespace Lathe.Knowledge.Experiment;

/// <summary>One question of a question set: one phrasing (<paramref name="Phrasing"/>, the index of the relation's
/// question template) of asking for <paramref name="Relation"/> of <paramref name="Subject"/>.</summary>
/// <param name="Id">Unique within the set: relation, subject and phrasing.</param>
/// <param name="Subject">The subject's entity id; for an unanswerable question, the invented name (no entity has it).</param>
/// <param name="Answers">Every acceptable answer (an entity object's name and aliases, a number's text); empty when
/// <paramref name="Answerable"/> is false.</param>
public sealed record QuestionRow(string Id, string Question, string Subject, string Relation, IReadOnlyList<string> Answers,
    bool Answerable, int Phrasing)
{
    /// <summary>The relation's objects are numbers: an answer within 0.5% counts (<see cref="AnswerMatch"/>); dates,
    /// codes and names must match exactly (by name key).</summary>
    public bool Numeric { get; init; }
}

/// <summary>An invented name for unanswerable questions (data/kg/unknown-entities.jsonl.gz): a name no entity of the
/// graph has, and the type whose relations it is asked about.</summary>
public sealed record UnknownEntity(string Name, string Type);
