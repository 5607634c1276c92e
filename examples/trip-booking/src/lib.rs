//! `trip-booking`: a saga. Books a flight, a hotel and a car; when a step
//! fails (input `"car": "unavailable"`) or the workflow is cancelled, the
//! bookings made so far are cancelled in reverse order (hotel, then flight),
//! each as a retried activity, and the original error is returned.
//!
//! Input `{"traveller": "ada", "car": "unavailable"}`.

use weft_sdk::prelude::*;

#[derive(Serialize, Deserialize, Clone)]
struct Trip {
    traveller: String,
    #[serde(default)]
    car: String,
    #[serde(default)]
    compensation_delay_ms: u64,
}

#[derive(Serialize, Deserialize, Clone)]
struct Booking {
    kind: String,
    reference: String,
    #[serde(default)]
    compensation_delay_ms: u64,
}

#[derive(Default)]
struct TripBooking;

fn book_all(
    ctx: &mut Ctx<TripBooking>,
    saga: &mut Saga,
    trip: &Trip,
) -> Result<Vec<String>, Failure> {
    let flight: Booking = ctx.activity("book_flight", trip)?;
    saga.add("cancel_flight", &flight);
    let hotel: Booking = ctx.activity("book_hotel", trip)?;
    saga.add("cancel_hotel", &hotel);
    let car: Booking = ctx.activity("book_car", trip)?;
    saga.add("cancel_car", &car);
    Ok(vec![flight.reference, hotel.reference, car.reference])
}

impl Workflow for TripBooking {
    type Input = Trip;
    type Output = Vec<String>;

    fn run(ctx: &mut Ctx<Self>, trip: Trip) -> Result<Vec<String>, Failure> {
        let mut saga = Saga::new();
        match book_all(ctx, &mut saga, &trip) {
            Ok(references) => Ok(references),
            Err(e) => Err(saga.compensate_and_fail(ctx, e)),
        }
    }
}

weft_sdk::export_workflow!(TripBooking);
