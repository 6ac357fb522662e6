namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>Where the meta-trainer hands its rule to the rule file format (one place to switch formats).</summary>
internal static class RuleFileSeam
{
    /// <summary>Saves <paramref name="rule"/> as a rule file at <paramref name="path"/>.</summary>
    public static void Save(LocalUpdateRule rule, string path) => rule.save(path);

    /// <summary>Loads the rule file at <paramref name="path"/> (default options' shapes).</summary>
    public static LocalUpdateRule Load(string? path)
    {
        if (path is null)
            throw new ArgumentException("No shipped rule yet: pass --rule.");
        var rule = new LocalUpdateRule(new LocalUpdateRuleOptions { Seed = 1 });
        rule.load(path);
        return rule;
    }
}
