use maestro_trace::traced;

#[traced(
    "fetch_model_from_registry",
    attrs(model.registry.this_is_an_attribute_key_that_keeps_going_well_past_any_reasonable_length_because_someone_tried_to_encode_a_whole_sentence_describing_the_value_into_the_key_itself_instead_of_putting_the_description_in_the_documentation_where_it_belongs_and_more = 1)
)]
fn fetch_model() {}

fn main() {}
