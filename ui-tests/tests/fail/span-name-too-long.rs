use maestro_trace::traced;

#[traced("load_training_dataset_from_the_feature_store_then_normalize_every_column_and_split_it_into_train_validation_and_test_partitions_by_date")]
fn load_training_dataset() {}

fn main() {}
